/* latephase native kernels: max pooling with recorded indices. Part of the one translation unit native/kernels.c includes. */
/*
 * Max pooling over NHWC x [n, h, w, c] (geometry's o = c), recording for each output the flat index
 * into x of the first maximum in window order (rows, then columns: the cpu backend's choice on ties),
 * or -1 for a window with no cell inside x; the gradient is then one scatter.
 */
typedef struct {
  const float *x;
  float *y;
  int32_t *indices;
  const conv_geometry *g;
} pool_forward_job;

/* One row of outputs (image b = row / oh, output row oy = row % oh). */
static void max_pool_row(void *arg, long row) {
  const pool_forward_job *j = arg;
  const conv_geometry *g = j->g;
  const int c = g->c, b = (int)(row / g->oh), oy = (int)(row % g->oh);
  long out = row * g->ow * c;
  for (int ox = 0; ox < g->ow; ox++, out += c) {
    float *yb = j->y + out;
    int32_t *ib = j->indices + out;
    for (int ch = 0; ch < c; ch++) yb[ch] = -INFINITY, ib[ch] = -1;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pt + i * g->dh;
      if (iy < 0 || iy >= g->h) continue;
      for (int jx = 0; jx < g->kw; jx++) {
        const int ix = ox * g->sw - g->pl + jx * g->dw;
        if (ix < 0 || ix >= g->w) continue;
        const long base = (((long)b * g->h + iy) * g->w + ix) * c;
        for (int ch = 0; ch < c; ch++)
          if (j->x[base + ch] > yb[ch] || ib[ch] < 0) yb[ch] = j->x[base + ch], ib[ch] = (int32_t)(base + ch);
      }
    }
  }
}

static void max_pool_forward(const float *x, float *y, int32_t *indices, const conv_geometry *g) {
  pool_forward_job j = {.x = x, .y = y, .indices = indices, .g = g};
  parallel_for((long)g->n * g->oh, max_pool_row, &j);
}

static void max_pool_backward(const float *dy, const int32_t *indices, long outputs, float *dx, long inputs) {
  memset(dx, 0, sizeof(float) * inputs);
  for (long i = 0; i < outputs; i++)
    if (indices[i] >= 0) dx[indices[i]] += dy[i];
}
