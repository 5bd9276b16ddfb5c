/* latephase native kernels: the N-API glue: argument checks and the exported functions, registered from one table. Part of the one translation unit native/kernels.c includes. */
/* ---- N-API ---- */

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* v's data and length if it is a typed array of type `want`; 0 otherwise. */
static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) == napi_ok && type == want;
}

static int float_array(napi_env env, napi_value v, float **data, size_t *length) {
  void *ptr;
  if (!typed_array(env, v, napi_float32_array, &ptr, length)) return 0;
  *data = ptr;
  return 1;
}

/* A Float32Array argument or null (then *data = NULL, *length = 0); 0 otherwise. */
static int float_or_null(napi_env env, napi_value v, float **data, size_t *length) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) == napi_ok && type == napi_null) {
    *data = NULL, *length = 0;
    return 1;
  }
  return float_array(env, v, data, length);
}

static int int32_array(napi_env env, napi_value v, int32_t **data, size_t *length) {
  void *ptr;
  if (!typed_array(env, v, napi_int32_array, &ptr, length)) return 0;
  *data = ptr;
  return 1;
}

/* A geometry argument (Int32Array(15), conv_geometry's fields in order) into g, every size, stride and dilation positive; 0 after throwing. */
static int geometry_arg(napi_env env, napi_value v, const char *name, conv_geometry *g) {
  int32_t *gp;
  size_t ng;
  char msg[160];
  if (!int32_array(env, v, &gp, &ng) || ng != 15) {
    snprintf(msg, sizeof msg, "%s: the geometry must be an Int32Array(15)", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  memcpy(g, gp, sizeof *g);
  if (g->n <= 0 || g->h <= 0 || g->w <= 0 || g->c <= 0 || g->oh <= 0 || g->ow <= 0 || g->o <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 ||
      g->sw <= 0 || g->dh <= 0 || g->dw <= 0) {
    snprintf(msg, sizeof msg, "%s: sizes, strides and dilations must be positive", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* Arguments (a, b, out, geometry) of a convolution kernel, checked; 0 after throwing. */
static int conv_args(napi_env env, napi_callback_info info, const char *name, float **a, float **b, float **out, size_t lengths[3],
                     conv_geometry *g) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 || !float_array(env, argv[0], a, &lengths[0]) || !float_array(env, argv[1], b, &lengths[1]) ||
      !float_array(env, argv[2], out, &lengths[2])) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: expected (Float32Array, Float32Array, Float32Array, Int32Array(15))", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  return geometry_arg(env, argv[3], name, g);
}

static int lengths_match(napi_env env, const char *name, const size_t got[3], const size_t want[3]) {
  if (got[0] == want[0] && got[1] == want[1] && got[2] == want[2]) return 1;
  char msg[160];
  snprintf(msg, sizeof msg, "%s: array lengths do not match the geometry", name);
  napi_throw_error(env, NULL, msg);
  return 0;
}

/* Element counts of a convolution's input [n, h, w, c], filter [kh, kw, c, o] and output [n, oh, ow, o]. */
static size_t input_count(const conv_geometry *g) { return (size_t)g->n * g->h * g->w * g->c; }
static size_t filter_count(const conv_geometry *g) { return (size_t)g->kh * g->kw * g->c * g->o; }
static size_t output_count(const conv_geometry *g) { return (size_t)g->n * g->oh * g->ow * g->o; }

typedef int (*conv_kernel)(const float *a, const float *b, float *out, const conv_geometry *g);
typedef size_t (*conv_count)(const conv_geometry *g);

/* Run `kernel` on the call's (a, b, out, geometry) after checking each array's length against `counts`. */
static napi_value run_conv(napi_env env, napi_callback_info info, const char *name, conv_kernel kernel, const conv_count counts[3]) {
  float *a, *b, *out;
  size_t len[3];
  conv_geometry g;
  if (!conv_args(env, info, name, &a, &b, &out, len, &g)) return NULL;
  const size_t want[3] = {counts[0](&g), counts[1](&g), counts[2](&g)};
  if (!lengths_match(env, name, len, want)) return NULL;
  if (!kernel(a, b, out, &g)) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s: out of memory", name);
    return fail(env, msg);
  }
  return NULL;
}

/* conv2d(x, w, out y, geometry) */
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  static const conv_count counts[3] = {input_count, filter_count, output_count};
  return run_conv(env, info, "conv2d", conv_forward, counts);
}

/* inputGradient(dy, w, out dx, geometry) */
static napi_value js_input_gradient(napi_env env, napi_callback_info info) {
  static const conv_count counts[3] = {output_count, filter_count, input_count};
  return run_conv(env, info, "inputGradient", input_gradient, counts);
}

/* filterGradient(x, dy, out dw, geometry) */
static napi_value js_filter_gradient(napi_env env, napi_callback_info info) {
  static const conv_count counts[3] = {input_count, output_count, filter_count};
  return run_conv(env, info, "filterGradient", filter_gradient, counts);
}

/* Float32Array arguments argv[first ..] into data[], each length in len[]; 0 after throwing. */
static int float_args(napi_env env, napi_value *argv, int count, const char *name, float **data, size_t *len) {
  for (int i = 0; i < count; i++)
    if (!float_array(env, argv[i], &data[i], &len[i])) {
      char msg[120];
      snprintf(msg, sizeof msg, "%s: argument %d must be a Float32Array", name, i);
      napi_throw_error(env, NULL, msg);
      return 0;
    }
  return 1;
}

/* batchNormForward(x, gamma, beta, y, mean, variance, invStd, epsilon, relu) over x's last axis (gamma's length) */
static napi_value js_batch_norm_forward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *d[7];
  size_t len[7];
  double epsilon;
  bool relu;
  if (argc != 9 || napi_get_value_double(env, argv[7], &epsilon) != napi_ok || napi_get_value_bool(env, argv[8], &relu) != napi_ok)
    return fail(env, "batchNormForward: expected 7 Float32Arrays, epsilon and relu (a boolean)");
  if (!float_args(env, argv, 7, "batchNormForward", d, len)) return NULL;
  const size_t c = len[1];
  if (c == 0 || len[0] % c || len[2] != c || len[3] != len[0] || len[4] != c || len[5] != c || len[6] != c)
    return fail(env, "batchNormForward: x and y must be [rows, C], the others [C]");
  if (!batch_norm_forward(d[0], d[1], d[2], (float)epsilon, (long)(len[0] / c), (int)c, relu, d[3], d[4], d[5], d[6]))
    return fail(env, "batchNormForward: out of memory");
  return NULL;
}

/* batchNormBackward(dy, x, gamma, mean, invStd, dx, dgamma, dbeta, mask: Float32Array | null) */
static napi_value js_batch_norm_backward(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *d[9] = {NULL};
  size_t len[9] = {0};
  napi_valuetype mask_type;
  if (argc != 9 || napi_typeof(env, argv[8], &mask_type) != napi_ok)
    return fail(env, "batchNormBackward: expected 8 Float32Arrays and a mask (Float32Array or null)");
  const int masked = mask_type != napi_null;
  if (!float_args(env, argv, masked ? 9 : 8, "batchNormBackward", d, len)) return NULL;
  const size_t c = len[2];
  /* dy: [rows, C], or [images, C] with rows a multiple of images (a global average pool's gradient) */
  if (c == 0 || len[1] % c || len[0] == 0 || len[0] % c || len[1] % len[0] || len[3] != c || len[4] != c || len[5] != len[1] ||
      len[6] != c || len[7] != c || (masked && len[8] != len[1]))
    return fail(env, "batchNormBackward: x, dx and the mask must be [rows, C], dy [rows, C] or [images, C], the others [C]");
  if (!batch_norm_backward(d[0], (long)(len[1] / len[0]), d[8], d[1], d[2], d[3], d[4], (long)(len[1] / c), (int)c, d[5], d[6], d[7]))
    return fail(env, "batchNormBackward: out of memory");
  return NULL;
}

/* maxPoolForward(x, y, indices: Int32Array, geometry, relu) */
static napi_value js_max_pool_forward(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *y;
  int32_t *indices;
  size_t nx, ny, ni;
  bool relu;
  conv_geometry g;
  if (argc != 5 || !float_array(env, argv[0], &x, &nx) || !float_array(env, argv[1], &y, &ny) ||
      !int32_array(env, argv[2], &indices, &ni) || napi_get_value_bool(env, argv[4], &relu) != napi_ok)
    return fail(env, "maxPoolForward: expected (Float32Array, Float32Array, Int32Array, Int32Array(15), relu: boolean)");
  if (!geometry_arg(env, argv[3], "maxPoolForward", &g)) return NULL;
  if (nx != (size_t)g.n * g.h * g.w * g.c || ny != (size_t)g.n * g.oh * g.ow * g.c || ni != ny || nx > INT32_MAX)
    return fail(env, "maxPoolForward: array lengths do not match the geometry");
  max_pool_forward(x, y, indices, &g, relu);
  return NULL;
}

/* maxPoolBackward(dy, indices, dx, mask: Float32Array | null, geometry): dx = 0, then dx[indices[i]] += dy[i] where mask[i] > 0 */
static napi_value js_max_pool_backward(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *dy, *dx, *mask = NULL;
  int32_t *indices;
  size_t ndy, ni, ndx, nm = 0;
  conv_geometry g;
  if (argc != 5 || !float_array(env, argv[0], &dy, &ndy) || !int32_array(env, argv[1], &indices, &ni) ||
      !float_array(env, argv[2], &dx, &ndx) || !float_or_null(env, argv[3], &mask, &nm))
    return fail(env, "maxPoolBackward: expected (Float32Array, Int32Array, Float32Array, Float32Array or null, Int32Array(15))");
  if (!geometry_arg(env, argv[4], "maxPoolBackward", &g)) return NULL;
  if (ndx != (size_t)g.n * g.h * g.w * g.c || ndy != (size_t)g.n * g.oh * g.ow * g.c)
    return fail(env, "maxPoolBackward: array lengths do not match the geometry");
  if (ni != ndy || (mask && nm != ndy)) return fail(env, "maxPoolBackward: dy, indices and the mask differ in length");
  for (size_t i = 0; i < ni; i++)
    if (indices[i] >= (int64_t)ndx) return fail(env, "maxPoolBackward: an index lies outside dx");
  max_pool_backward(dy, indices, mask, (long)ndy, dx, (long)ndx, &g);
  return NULL;
}

/* The two geometries of a convReluMaxPool call (argv[0], argv[1]), checked to be a fusion the kernels compute; 0 after throwing. */
static int conv_pool_geometries(napi_env env, napi_value *argv, const char *name, conv_geometry *conv, conv_geometry *pool) {
  if (!geometry_arg(env, argv[0], name, conv) || !geometry_arg(env, argv[1], name, pool)) return 0;
  if (!conv_pool_applies(conv, pool) || output_count(conv) > INT32_MAX) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "%s: not a fusable convolution and pool (few input channels, output channels in 16s, a pool that tiles the output)", name);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* convReluMaxPool(x, w, bias: Float32Array | null, y, indices: Int32Array, convGeometry, poolGeometry) */
static napi_value js_conv_relu_max_pool(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *w, *bias, *y;
  int32_t *indices;
  size_t nx, nw, nb, ny, ni;
  conv_geometry conv, pool;
  if (argc != 7 || !float_array(env, argv[0], &x, &nx) || !float_array(env, argv[1], &w, &nw) || !float_or_null(env, argv[2], &bias, &nb) ||
      !float_array(env, argv[3], &y, &ny) || !int32_array(env, argv[4], &indices, &ni))
    return fail(env, "convReluMaxPool: expected (Float32Array, Float32Array, Float32Array or null, Float32Array, Int32Array, "
                     "Int32Array(15), Int32Array(15))");
  if (!conv_pool_geometries(env, argv + 5, "convReluMaxPool", &conv, &pool)) return NULL;
  if (nx != input_count(&conv) || nw != filter_count(&conv) || (bias && nb != (size_t)conv.o) || ny != output_count(&pool) || ni != ny)
    return fail(env, "convReluMaxPool: array lengths do not match the geometries");
  if (!conv_relu_max_pool(x, w, bias, y, indices, &conv, &pool)) return fail(env, "convReluMaxPool: out of memory");
  return NULL;
}

/* convReluMaxPoolFilterGradient(x, dy, y, indices, dw, db: Float32Array | null, convGeometry, poolGeometry): dy, y and indices pooled */
static napi_value js_conv_pool_filter_gradient(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *dy, *y, *dw, *db;
  int32_t *indices;
  size_t nx, ndy, ny, ni, ndw, ndb;
  conv_geometry conv, pool;
  if (argc != 8 || !float_array(env, argv[0], &x, &nx) || !float_array(env, argv[1], &dy, &ndy) || !float_array(env, argv[2], &y, &ny) ||
      !int32_array(env, argv[3], &indices, &ni) || !float_array(env, argv[4], &dw, &ndw) || !float_or_null(env, argv[5], &db, &ndb))
    return fail(env, "convReluMaxPoolFilterGradient: expected (Float32Array, Float32Array, Float32Array, Int32Array, Float32Array, "
                     "Float32Array or null, "
                     "Int32Array(15), Int32Array(15))");
  if (!conv_pool_geometries(env, argv + 6, "convReluMaxPoolFilterGradient", &conv, &pool)) return NULL;
  if (nx != input_count(&conv) || ndy != output_count(&pool) || ny != ndy || ni != ndy || ndw != filter_count(&conv) ||
      (db && ndb != (size_t)conv.o))
    return fail(env, "convReluMaxPoolFilterGradient: array lengths do not match the geometries");
  if (!conv_pool_filter_gradient(x, dy, y, indices, dw, db, &conv, &pool)) return fail(env, "convReluMaxPoolFilterGradient: out of memory");
  return NULL;
}

/* The arrays (big [n, pixels, c], small [n, c]) and channel count c of a global pooling call; 0 after throwing. */
static int global_pool_args(napi_env env, napi_callback_info info, const char *name, int big_first, float **big, float **small,
                            long shape[3]) {
  size_t argc = 3, nb, ns;
  napi_value argv[3];
  int32_t c;
  char msg[160];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 3 || !float_array(env, argv[big_first ? 0 : 1], big, &nb) || !float_array(env, argv[big_first ? 1 : 0], small, &ns) ||
      napi_get_value_int32(env, argv[2], &c) != napi_ok || c < 1) {
    snprintf(msg, sizeof msg, "%s: expected two Float32Arrays and a channel count >= 1", name);
    return fail(env, msg), 0;
  }
  if (ns == 0 || ns % (size_t)c || nb % ns) {
    snprintf(msg, sizeof msg, "%s: the arrays must be [n, pixels, c] and [n, c]", name);
    return fail(env, msg), 0;
  }
  shape[0] = (long)(ns / (size_t)c), shape[1] = (long)(nb / ns), shape[2] = c;
  return 1;
}

/* globalAvgPool(x [n, pixels, c], y [n, c], c) */
static napi_value js_global_avg_pool(napi_env env, napi_callback_info info) {
  float *x, *y;
  long s[3];
  if (global_pool_args(env, info, "globalAvgPool", 1, &x, &y, s)) global_avg_pool(x, y, s[0], s[1], (int)s[2]);
  return NULL;
}

/* globalAvgPoolGrad(dy [n, c], dx [n, pixels, c], c) */
static napi_value js_global_avg_pool_grad(napi_env env, napi_callback_info info) {
  float *dx, *dy;
  long s[3];
  if (global_pool_args(env, info, "globalAvgPoolGrad", 0, &dx, &dy, s)) global_avg_pool_grad(dy, dx, s[0], s[1], (int)s[2]);
  return NULL;
}

/* softmaxCrossEntropy(logits [rows, c], targets [rows, c], dlogits [rows, c], c): returns the mean loss */
static napi_value js_softmax_cross_entropy(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  float *d[3];
  size_t len[3];
  int32_t c;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4 || napi_get_value_int32(env, argv[3], &c) != napi_ok || c < 1)
    return fail(env, "softmaxCrossEntropy: expected three Float32Arrays and a class count >= 1");
  if (!float_args(env, argv, 3, "softmaxCrossEntropy", d, len)) return NULL;
  if (len[0] == 0 || len[0] % (size_t)c || len[1] != len[0] || len[2] != len[0])
    return fail(env, "softmaxCrossEntropy: logits, targets and dlogits must all be [rows, c]");
  napi_create_double(env, softmax_cross_entropy(d[0], d[1], (long)(len[0] / (size_t)c), c, d[2]), &result);
  return result;
}

/* name(inputs Float32Arrays..., out): one length for all; fn over them on the pool. */
static napi_value run_elementwise(napi_env env, napi_callback_info info, const char *name, int inputs, task_fn fn) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *d[3];
  size_t len[3];
  char msg[120];
  if ((int)argc != inputs + 1) {
    snprintf(msg, sizeof msg, "%s: expected %d Float32Arrays", name, inputs + 1);
    return fail(env, msg);
  }
  if (!float_args(env, argv, inputs + 1, name, d, len)) return NULL;
  for (int i = 1; i <= inputs; i++)
    if (len[i] != len[0]) {
      snprintf(msg, sizeof msg, "%s: the arrays differ in length", name);
      return fail(env, msg);
    }
  elementwise(fn, d[0], inputs == 2 ? d[1] : NULL, d[inputs], (long)len[0]);
  return NULL;
}

/* reluBackward(dy, y, dx) */
static napi_value js_relu_backward(napi_env env, napi_callback_info info) {
  return run_elementwise(env, info, "reluBackward", 2, relu_backward_chunk);
}

/* reluForward(x, y) */
static napi_value js_relu_forward(napi_env env, napi_callback_info info) {
  return run_elementwise(env, info, "reluForward", 1, relu_forward_chunk);
}

/* add(a, b, out) */
static napi_value js_add(napi_env env, napi_callback_info info) { return run_elementwise(env, info, "add", 2, add_chunk); }

/* sgdStep(p, grad, buf | null, pOut, bufOut | null, lr, momentum, weightDecay, nesterov, gradScale) */
static napi_value js_sgd_step(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 10) return fail(env, "sgdStep: expected 10 arguments");
  float *p, *grad, *p_out, *buf = NULL, *buf_out = NULL;
  size_t np, ng, npo, nb = 0, nbo = 0;
  napi_valuetype t3, t4;
  napi_typeof(env, argv[2], &t3);
  napi_typeof(env, argv[4], &t4);
  if (!float_array(env, argv[0], &p, &np) || !float_array(env, argv[1], &grad, &ng) || !float_array(env, argv[3], &p_out, &npo))
    return fail(env, "sgdStep: p, grad and pOut must be Float32Arrays");
  if ((t3 == napi_null) != (t4 == napi_null)) return fail(env, "sgdStep: buf and bufOut must both be given or both be null");
  if (t3 != napi_null && (!float_array(env, argv[2], &buf, &nb) || !float_array(env, argv[4], &buf_out, &nbo)))
    return fail(env, "sgdStep: buf and bufOut must be Float32Arrays or null");
  if (ng != np || npo != np || (buf && (nb != np || nbo != np))) return fail(env, "sgdStep: arrays differ in length");
  double h[4];
  bool nesterov;
  for (int i = 0; i < 3; i++)
    if (napi_get_value_double(env, argv[5 + i], &h[i]) != napi_ok)
      return fail(env, "sgdStep: lr, momentum and weightDecay must be numbers");
  if (napi_get_value_bool(env, argv[8], &nesterov) != napi_ok || napi_get_value_double(env, argv[9], &h[3]) != napi_ok)
    return fail(env, "sgdStep: nesterov must be a boolean and gradScale a number");
  sgd_step(p, grad, buf, p_out, buf_out, (long)np, (float)h[0], (float)h[1], (float)h[2], nesterov, (float)h[3]);
  return NULL;
}

/* setThreads(n): the threads the kernels use from now on, the caller included; returns the count started. */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) return fail(env, "setThreads: expected a thread count >= 1");
  napi_create_int32(env, pool_resize(n), &result);
  return result;
}

/* cpuLevel(): this CPU's x86-64 level from CPUID (cpuLevel.c). */
static napi_value js_cpu_level(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value level;
  napi_create_int32(env, cpu_level(), &level);
  return level;
}

/* Every exported function, by its JavaScript name (src/backend/nativeKernelTable.ts lists the same names). */
static const struct {
  const char *name;
  napi_callback fn;
} EXPORTS[] = {
    {"filterGradient", js_filter_gradient},
    {"conv2d", js_conv2d},
    {"inputGradient", js_input_gradient},
    {"batchNormForward", js_batch_norm_forward},
    {"batchNormBackward", js_batch_norm_backward},
    {"maxPoolForward", js_max_pool_forward},
    {"maxPoolBackward", js_max_pool_backward},
    {"convReluMaxPool", js_conv_relu_max_pool},
    {"convReluMaxPoolFilterGradient", js_conv_pool_filter_gradient},
    {"reluBackward", js_relu_backward},
    {"sgdStep", js_sgd_step},
    {"reluForward", js_relu_forward},
    {"add", js_add},
    {"globalAvgPool", js_global_avg_pool},
    {"globalAvgPoolGrad", js_global_avg_pool_grad},
    {"softmaxCrossEntropy", js_softmax_cross_entropy},
    {"setThreads", js_set_threads},
    {"cpuLevel", js_cpu_level},
};

static napi_value init(napi_env env, napi_value exports) {
  for (size_t i = 0; i < sizeof EXPORTS / sizeof EXPORTS[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, EXPORTS[i].name, NAPI_AUTO_LENGTH, EXPORTS[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, EXPORTS[i].name, fn) != napi_ok)
      return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
