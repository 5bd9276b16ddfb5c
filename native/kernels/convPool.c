/* latephase native kernels: a first layer's convolution, ReLU and max pool in one pass, and its filter gradient. Part of the one translation unit native/kernels.c includes. */
/*
 * A few-channel convolution (a first layer) followed by a ReLU and a max pool whose windows tile
 * its output. Unfused, the convolution writes its full-resolution output (n x oh x ow x o floats:
 * 3.2 MB for the bench CNN at batch 32) for the pool to read back, and the gradient writes a
 * full-resolution dy, three quarters zeros, for the filter gradient to read back. Here each task
 * computes the conv rows of one row of pool windows into a per-thread buffer and pools them there;
 * the gradient reads the pooled dy in place (filter_gradient_small_pooled). Every value is the
 * unfused path's: each pixel summed by the same tiles in the same order (forward_panel), the same
 * window comparisons (max_pool_window16), indices flat into the unfused convolution's output.
 */

/* Whether `pool` (over the output of `conv`) is one this fusion computes; the JS side asks the same before calling. */
static int conv_pool_applies(const conv_geometry *conv, const conv_geometry *pool) {
  const int rows = conv->kh * conv->kw * conv->c;
  return !winograd_applies(conv) && rows <= SMALL_ROWS && conv->o % 16 == 0 && pool->n == conv->n && pool->h == conv->oh &&
         pool->w == conv->ow && pool->c == conv->o && pool->o == conv->o && pool->kh == pool->sh && pool->kw == pool->sw && pool->dh == 1 &&
         pool->dw == 1 && pool->pt == 0 && pool->pl == 0 && pool->oh == conv->oh / pool->kh && pool->ow == conv->ow / pool->kw &&
         pool->oh > 0 && pool->ow > 0;
}

typedef struct {
  const float *x, *w, *bias;
  float *y;
  int32_t *indices;
  const conv_geometry *conv, *pool;
  long rows_per_task;
  atomic_int failed;
} conv_pool_job;

/*
 * forward_V reading x in place instead of from packed rows (packing a few-channel window costs more
 * than its products): RB pixels of one output row whose windows are inside x, row r of each at
 * off[r] from its first cell, pixels `step` floats apart. The same products in the same order.
 */
#define DIRECT_TILE(V)                                                                                                                     \
  static void direct_##V(const float *xb, long step, const long *off, int rows, const float *w, int o, int o0, float *y) {                 \
    v16 acc[RB][V];                                                                                                                        \
    for (int k = 0; k < RB; k++)                                                                                                           \
      for (int v = 0; v < V; v++) acc[k][v] = (v16){0};                                                                                    \
    for (int r = 0; r < rows; r++) {                                                                                                       \
      v16 wv[V];                                                                                                                           \
      for (int v = 0; v < V; v++) wv[v] = load16(w + (long)r * o + o0 + 16 * v);                                                           \
      for (int k = 0; k < RB; k++) {                                                                                                       \
        const float a = xb[k * step + off[r]];                                                                                             \
        for (int v = 0; v < V; v++) acc[k][v] += a * wv[v];                                                                                \
      }                                                                                                                                    \
    }                                                                                                                                      \
    for (int k = 0; k < RB; k++)                                                                                                           \
      for (int v = 0; v < V; v++) store16(y + (long)k * o + o0 + 16 * v, acc[k][v]);                                                       \
  }
DIRECT_TILE(2)
DIRECT_TILE(1)

/* Rows of `count` pixels' windows (row oy of image b from column ox) with a check per value: 0 past x's edges, as pack_rows gives. */
static void pack_checked(const conv_pool_job *j, int count, int b, int oy, int ox, float *panel) {
  const conv_geometry *g = j->conv;
  const int rows = g->kh * g->kw * g->c;
  for (int k = 0; k < count; k++)
    for (int r = 0; r < rows; r++) {
      const int tap = r / g->c, iy = oy * g->sh - g->pt + tap / g->kw * g->dh, ix = (ox + k) * g->sw - g->pl + tap % g->kw * g->dw;
      panel[k * rows + r] = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? j->x[(((long)b * g->h + iy) * g->w + ix) * g->c + r % g->c] : 0;
    }
  memset(panel + (size_t)count * rows, 0, sizeof(float) * (size_t)(RB - count) * rows);
}

/*
 * Row oy of image b's conv output into y: RB windows at a time read in place where they lie inside
 * x, the others (edges, a short last group) from a checked copy; the same sums either way.
 */
static void conv_row(const conv_pool_job *j, const long *off, float *panel, int b, int oy, float *y) {
  const conv_geometry *g = j->conv;
  const int rows = g->kh * g->kw * g->c, o = g->o;
  const int iy0 = oy * g->sh - g->pt, rows_inside = iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h;
  /* columns [lo, hi) have windows inside x */
  const int last = g->w - 1 - (g->kw - 1) * g->dw + g->pl; /* the largest ox * sw with the window inside */
  int lo = (g->pl + g->sw - 1) / g->sw, hi = last < 0 ? 0 : last / g->sw + 1;
  if (!rows_inside || hi > g->ow) hi = rows_inside ? g->ow : 0;
  if (lo > hi) lo = hi;
  for (int ox = 0; ox < g->ow;) {
    const int direct = ox >= lo && ox + RB <= hi;
    const int left = ox < lo ? lo - ox : g->ow - ox, count = direct || left > RB ? RB : left; /* at most RB: the panel holds RB windows */
    float *yp = y + (long)ox * o;
    int o0 = 0;
    if (direct) {
      const float *xb = j->x + (((long)b * g->h + iy0) * g->w + (ox * g->sw - g->pl)) * g->c;
      for (; o0 + 32 <= o; o0 += 32) direct_2(xb, (long)g->sw * g->c, off, rows, j->w, o, o0, yp);
      if (o0 < o) direct_1(xb, (long)g->sw * g->c, off, rows, j->w, o, o0, yp);
    } else {
      pack_checked(j, count, b, oy, ox, panel);
      for (; o0 + 32 <= o; o0 += 32) forward_2(panel, rows, 0, rows, count, j->w, o, o0, yp);
      if (o0 < o) forward_1(panel, rows, 0, rows, count, j->w, o, o0, yp);
    }
    ox += count;
  }
}

/* Pool-window rows [task * rows_per_task, ..) (image b = row / pool oh): kh conv rows each, computed, then pooled. */
static void conv_pool_rows(void *arg, long task) {
  conv_pool_job *j = arg;
  const conv_geometry *g = j->conv, *pg = j->pool;
  const int rows = g->kh * g->kw * g->c, o = g->o, count = pg->kh * g->ow;
  /* RB packed pixels at most (edges), then the window row's conv output */
  float *panel = scratch(0, (size_t)RB * rows + (size_t)count * o);
  if (!panel) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *cells = panel + (size_t)RB * rows;
  long off[SMALL_ROWS];
  for (int r = 0; r < rows; r++) {
    const int tap = r / g->c;
    off[r] = ((long)(tap / g->kw) * g->dh * g->w + (long)(tap % g->kw) * g->dw) * g->c + r % g->c;
  }
  const long pool_rows = (long)pg->n * pg->oh;
  const long end = (task + 1) * j->rows_per_task < pool_rows ? (task + 1) * j->rows_per_task : pool_rows;
  for (long row = task * j->rows_per_task; row < end; row++) {
    const int b = (int)(row / pg->oh), py = (int)(row % pg->oh);
    const long p0 = ((long)b * g->oh + (long)py * pg->kh) * g->ow; /* the window row's first conv pixel */
    for (int i = 0; i < pg->kh; i++) conv_row(j, off, panel, b, py * pg->kh + i, cells + (long)i * g->ow * o);
    if (j->bias) /* the unfused bias add: one rounding after the sum */
      for (int p = 0; p < count; p++)
        for (int oc = 0; oc < o; oc++) cells[(long)p * o + oc] += j->bias[oc];
    const long out = row * pg->ow * o;
    for (int px = 0; px < pg->ow; px++) {
      const long cell = (long)px * pg->kw * o;
      max_pool_window16(cells + cell, p0 * o + cell, pg, 1, j->y + out + (long)px * o, j->indices + out + (long)px * o);
    }
  }
}

/* y = max pool of ReLU(conv(x, w) + bias) (bias may be NULL), with the pool's indices; 0 when out of memory. */
static int conv_relu_max_pool(const float *x, const float *w, const float *bias, float *y, int32_t *indices, const conv_geometry *conv,
                              const conv_geometry *pool) {
  const long pool_rows = (long)pool->n * pool->oh;
  conv_pool_job j = {
      .x = x, .w = w, .bias = bias, .y = y, .indices = indices, .conv = conv, .pool = pool, .rows_per_task = items_per_task(pool_rows)};
  atomic_init(&j.failed, 0);
  parallel_for((pool_rows + j.rows_per_task - 1) / j.rows_per_task, conv_pool_rows, &j);
  return !atomic_load(&j.failed);
}

/*
 * conv_relu_max_pool's gradients from the pooled dy: dW (the unfused bits), and db when asked: per
 * channel, the pooled dy where the output is positive, summed in pooled order in double (every
 * window's maximum is one conv pixel, so this is the sum over the unfused dy).
 */
static int conv_pool_filter_gradient(const float *x, const float *dy, const float *pooled_y, const int32_t *indices, float *dw, float *db,
                                     const conv_geometry *conv, const conv_geometry *pool) {
  if (!filter_gradient_small_pooled(x, dy, pooled_y, indices, pool, dw, conv)) return 0;
  if (!db) return 1;
  const int o = conv->o;
  double *sum = calloc((size_t)o, sizeof(double));
  if (!sum) return 0;
  const long positions = (long)pool->n * pool->oh * pool->ow;
  for (long q = 0; q < positions; q++)
    for (int oc = 0; oc < o; oc++) sum[oc] += pooled_y[q * o + oc] > 0 ? dy[q * o + oc] : 0;
  for (int oc = 0; oc < o; oc++) db[oc] = (float)sum[oc];
  free(sum);
  return 1;
}
