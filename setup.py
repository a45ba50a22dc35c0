from setuptools import find_packages, setup

setup(
    name="tinyreptile_ref",
    version="0.1.0",
    description="Reference implementation of TinyReptile: bit-exact NumPy and C99 kernels",
    packages=find_packages(include=["tinyreptile_ref", "tinyreptile_ref.*"]),
    python_requires=">=3.9",
    setup_requires=["cffi>=1.15"],
    install_requires=["numpy>=1.22", "cffi>=1.15"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "scikit-learn>=1.0"],
        # the digits task: scikit-learn ships the 8x8 digits inside the package
        "tasks": ["scikit-learn>=1.0"],
        # make demo: the tasks, a figure and a progress bar
        "demo": ["scikit-learn>=1.0", "matplotlib>=3.5", "tqdm>=4.0"],
        # fleets on Flower (tinyreptile_ref/federated/flower/): flwr 1.42 needs Python >= 3.11
        "flower": ["flwr[simulation]==1.42.0; python_version >= '3.11'"],
    },
    cffi_modules=["tinyreptile_ref/backend/_build.py:ffibuilder"],
    zip_safe=False,
)
