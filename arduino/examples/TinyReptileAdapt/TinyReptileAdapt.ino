// TinyReptileAdapt: a 1-8-1 tanh network adapted on the board with the tinyreptile runtime.
// Each pass streams five samples of y = x - x^3/6 (one fused SGD step per sample, as a
// TinyReptile device round) and prints the mean loss of the pass over the serial port, as a
// number and as its IEEE-754 bits (the NumPy reference computes the same bits on a PC).
#include <string.h>
#include <tinyreptile.h>

// kind, in_rank, in_dim, out_rank, out_dim, w_off, b_off, kernel_size, stride, dilation, padding
// (python -m tinyreptile_ref export-model writes such a table for a trained model)
static const tr_layer layers[3] = {
  {TR_LAYER_DENSE, 1, {1, 1}, 1, {8, 1}, 0, 8, 0, 0, 0, 0},
  {TR_LAYER_TANH, 1, {8, 1}, 1, {8, 1}, 0, 0, 0, 0, 0, 0},
  {TR_LAYER_DENSE, 1, {8, 1}, 1, {1, 1}, 16, 24, 0, 0, 0, 0},
};
static const tr_model model = {layers, 3, 25, TR_LOSS_MSE};

static float theta[25];      // [n_params], trained in place
// at least tr_model_arena_size(&model, 1, 1, TR_TRAIN_FUSED) bytes, 4-byte aligned (the
// runtime's rule; AVR aligns float to 1 byte only)
static float arena[32] __attribute__((aligned(4)));
static float x[5], y[5];     // [k][1] samples, [k][1] targets
static float losses[5];      // [k] each step's loss before the step

void setup() {
  Serial.begin(9600);
  int32_t need = 0;
  tr_status s = tr_model_arena_size(&need, &model, 1, 1, TR_TRAIN_FUSED);
  if (s != TR_OK || need > (int32_t)sizeof arena) {
    Serial.println(s != TR_OK ? tr_status_str(s) : "arena too small");
    return;
  }
  for (int j = 0; j < 25; j++) theta[j] = 0.3f * (float)((j * 7) % 11 - 5) / 5.0f;
  for (int j = 0; j < 5; j++) {
    x[j] = -2.0f + (float)j;
    y[j] = x[j] - x[j] * x[j] * x[j] / 6.0f;
  }
  for (int pass = 0; pass < 20; pass++) {
    s = tr_tinyreptile_device_round_f32(theta, losses, arena, theta, x, y, NULL, &model, 5,
                                        (int32_t)sizeof arena, 0.05f, TR_TRAIN_FUSED);
    if (s != TR_OK) {
      Serial.println(tr_status_str(s));
      return;
    }
    float mean = 0.0f;
    for (int j = 0; j < 5; j++) mean += losses[j];
    Serial.print("pass ");
    Serial.print(pass);
    Serial.print(" loss ");
    mean = mean / 5.0f;
    uint32_t bits;
    memcpy(&bits, &mean, sizeof bits);
    Serial.print(mean, 6);
    Serial.print(" bits ");
    Serial.println(bits, HEX);
  }
  Serial.println("done");
}

void loop() {}
