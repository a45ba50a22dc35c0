from setuptools import find_packages, setup

setup(
    name="tinyreptile_ref",
    version="0.1.0",
    description="Reference implementation of TinyReptile: bit-exact NumPy and C99 kernels",
    packages=find_packages(include=["tinyreptile_ref", "tinyreptile_ref.*"]),
    # the vectors tool checks every manifest against its own schema, never the checked one's
    package_data={"tinyreptile_ref.vectors": ["schema.json"]},
    python_requires=">=3.9",
    setup_requires=["cffi>=1.15"],
    install_requires=["numpy>=1.22", "cffi>=1.15"],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6.80", "scikit-learn>=1.0"],
        # the digits task: scikit-learn ships the 8x8 digits inside the package
        "tasks": ["scikit-learn>=1.0"],
        # make demo: the tasks, a figure and a progress bar
        "demo": ["scikit-learn>=1.0", "matplotlib>=3.5", "tqdm>=4.0"],
        # tests/test_tflite_equivalence.py: TFLite Micro's interpreter and reference kernels
        # (it publishes dev builds only, so one is pinned; installed by the Makefile)
        "tflite": ["tflite-micro==0.dev20261023182759"],
    },
    cffi_modules=["tinyreptile_ref/backend/_build.py:ffibuilder"],
    zip_safe=False,
)
