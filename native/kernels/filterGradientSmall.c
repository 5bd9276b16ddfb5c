/* latephase native kernels: filter gradients of few-channel convolutions (a first layer). Part of the one translation unit native/kernels.c includes. */
/*
 * Filter gradient of a convolution with few input channels (a first layer: kh * kw * c rows at
 * most SMALL_ROWS): im2col packing cost more than the products there, so each pixel's window is
 * read straight from x (fixed offsets inside the image, checked cells at its edges) into 8 rows x
 * 32 output channels of register accumulators. Threads take fixed chunks of pixels (sized by the
 * geometry alone), each into its own partial sums, added in chunk order afterwards.
 */
#define SMALL_ROWS 32

typedef struct {
  const float *x, *dy;
  float *partials;
  const conv_geometry *g;
  /* set when dy is a max pool's (convReluMaxPool's gradient): the pooled y and the argmax indices, dy pooled */
  const float *pooled_y;
  const int32_t *indices;
  const conv_geometry *pool;
  /* with a pool: each conv row's offset in the pooled arrays (its window row's), then each column's; -1 where no window covers it */
  long *pool_offsets;
  int rows;
  long chunk, pixels;
  /* each row's offset in x from its window's first cell, and its tap and channel; padding rows zero */
  long off[SMALL_ROWS + 16];
  int tap_y[SMALL_ROWS + 16], tap_x[SMALL_ROWS + 16], channel[SMALL_ROWS + 16];
} small_grad_job;

/* The value row r of pixel (b, iy0, ix0)'s window holds at an edge: x's cell, or 0 past the image (and for padding rows). */
static inline float edge_value(const small_grad_job *j, int r, int b, int iy0, int ix0) {
  const conv_geometry *g = j->g;
  const int iy = iy0 + j->tap_y[r], ix = ix0 + j->tap_x[r];
  return r < j->rows && iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? j->x[(((long)b * g->h + iy) * g->w + ix) * g->c + j->channel[r]] : 0;
}

/*
 * dy at pixel p = (b, oy, ox), channels [oc, oc + 16). After a ReLU and a max pool that tiles the
 * output (`pool`), it is the pooled dy where this pixel was its window's maximum and the pooled
 * output is positive, else 0: the value the pool's gradient writes (max_pool_grad_row), read in
 * place, so the sums below (the POOLED tiles) are the unfused path's bit for bit and the full-resolution dy is never
 * written. Pixels no window covers get 0.
 */
static inline v16 pooled_dy(const small_grad_job *j, long p, int b, int oy, int ox, int oc) {
  const v16 zero = {0};
  const long row = j->pool_offsets[oy], col = j->pool_offsets[j->g->oh + ox];
  if (row < 0 || col < 0) return zero;
  const v16i lanes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const long q = (long)b * j->pool->oh * j->pool->ow * j->pool->c + row + col + oc;
  const v16i hit = (*(const v16i *)(j->indices + q) == lanes + (int32_t)(p * j->g->o + oc)) & (load16(j->pooled_y + q) > zero);
  return select16(hit, load16(j->dy + q), zero);
}

/*
 * part[r0 .. r0 + R) x [o0, o0 + 16 * V) = sums over pixels [p0, p1): R x V accumulators. Inside
 * the image a window's rows are fixed offsets from its first cell (padding rows read that cell;
 * their sums are never stored). Each pixel's R values are gathered first, then every loop over the
 * accumulators is unrolled: indexed by a run-time k anywhere, they lived on the stack (a load and a
 * store per product, 3x the time).
 */
#define SMALL_GRADIENT_TILE(NAME, R, V, POOLED)                                                                                            \
  static void NAME(const small_grad_job *j, long p0, long p1, int r0, int o0, float *part) {                                               \
    const conv_geometry *g = j->g;                                                                                                         \
    const int o = g->o;                                                                                                                    \
    v16 acc[R][V];                                                                                                                         \
    _Pragma("GCC unroll 16") for (int k = 0; k < R; k++) _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) acc[k][v] = (v16){0};         \
    int ox = (int)(p0 % g->ow), oy = (int)(p0 / g->ow % g->oh), b = (int)(p0 / ((long)g->ow * g->oh));                                     \
    for (long p = p0; p < p1; p++) {                                                                                                       \
      const int iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;                                                                        \
      v16 d[V];                                                                                                                            \
      for (int v = 0; v < V; v++) d[v] = POOLED ? pooled_dy(j, p, b, oy, ox, o0 + 16 * v) : load16(j->dy + p * o + o0 + 16 * v);           \
      float a[R];                                                                                                                          \
      if (iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {                                  \
        const float *base = j->x + (((long)b * g->h + iy0) * g->w + ix0) * g->c;                                                           \
        for (int k = 0; k < R; k++) a[k] = base[j->off[r0 + k]];                                                                           \
      } else                                                                                                                               \
        for (int k = 0; k < R; k++) a[k] = edge_value(j, r0 + k, b, iy0, ix0);                                                             \
      _Pragma("GCC unroll 16") for (int k = 0; k < R; k++) _Pragma("GCC unroll 2") for (int v = 0; v < V; v++) acc[k][v] += a[k] * d[v];   \
      if (++ox == g->ow) {                                                                                                                 \
        ox = 0;                                                                                                                            \
        if (++oy == g->oh) oy = 0, b++;                                                                                                    \
      }                                                                                                                                    \
    }                                                                                                                                      \
    _Pragma("GCC unroll 16") for (int k = 0; k < R; k++) if (r0 + k < j->rows) _Pragma("GCC unroll 2") for (int v = 0; v < V; v++)         \
        store16(part + (long)(r0 + k) * o + o0 + 16 * v, acc[k][v]);                                                                       \
  }
/* 12 rows x 32 channels is 24 of AVX-512's 32 registers; 8 x 16 elsewhere fits AVX2's 16 as 2 halves each */
#ifdef __AVX512F__
#define SMALL_TILE_ROWS 12
#else
#define SMALL_TILE_ROWS 8
#endif
SMALL_GRADIENT_TILE(small_gradient_2, SMALL_TILE_ROWS, 2, 0)
SMALL_GRADIENT_TILE(small_gradient_1, SMALL_TILE_ROWS, 1, 0)
SMALL_GRADIENT_TILE(pooled_gradient_2, SMALL_TILE_ROWS, 2, 1)
SMALL_GRADIENT_TILE(pooled_gradient_1, SMALL_TILE_ROWS, 1, 1)

static void small_gradient_chunk(void *arg, long task) {
  const small_grad_job *j = arg;
  const int o = j->g->o;
  const long p0 = task * j->chunk, p1 = p0 + j->chunk < j->pixels ? p0 + j->chunk : j->pixels;
  float *part = j->partials + task * (long)j->rows * o;
  for (int r0 = 0; r0 < j->rows; r0 += SMALL_TILE_ROWS) {
    int o0 = 0;
    for (; o0 + 32 <= o; o0 += 32) (j->pool ? pooled_gradient_2 : small_gradient_2)(j, p0, p1, r0, o0, part);
    if (o0 + 16 <= o) (j->pool ? pooled_gradient_1 : small_gradient_1)(j, p0, p1, r0, o0, part), o0 += 16;
    for (; o0 < o; o0++) /* a few output channels past the vectors (never with a pool: it needs o in 16s) */
      for (int r = r0; r < r0 + SMALL_TILE_ROWS && r < j->rows; r++) {
        float s = 0;
        int ox = (int)(p0 % j->g->ow), oy = (int)(p0 / j->g->ow % j->g->oh), b = (int)(p0 / ((long)j->g->ow * j->g->oh));
        for (long p = p0; p < p1; p++) {
          s += edge_value(j, r, b, oy * j->g->sh - j->g->pt, ox * j->g->sw - j->g->pl) * j->dy[p * o + o0];
          if (++ox == j->g->ow) {
            ox = 0;
            if (++oy == j->g->oh) oy = 0, b++;
          }
        }
        part[(long)r * o + o0] = s;
      }
  }
}

/* With `pool` (else NULL, and dy is the convolution's): dy, pooled_y and indices are a ReLU + max pool's, as small_dy reads them. */
static int filter_gradient_small_pooled(const float *x, const float *dy, const float *pooled_y, const int32_t *indices,
                                        const conv_geometry *pool, float *dw, const conv_geometry *g) {
  small_grad_job *j = malloc(sizeof *j);
  if (!j) return 0;
  *j = (small_grad_job){.x = x,
                        .dy = dy,
                        .g = g,
                        .pooled_y = pooled_y,
                        .indices = indices,
                        .pool = pool,
                        .rows = g->kh * g->kw * g->c,
                        .pixels = (long)g->n * g->oh * g->ow};
  if (pool) { /* pooled offsets by table: a division per pixel cost more than the pixel's products */
    j->pool_offsets = malloc(sizeof(long) * ((size_t)g->oh + g->ow));
    if (!j->pool_offsets) return free(j), 0;
    for (int oy = 0; oy < g->oh; oy++) j->pool_offsets[oy] = oy / pool->kh < pool->oh ? (long)(oy / pool->kh) * pool->ow * pool->c : -1;
    for (int ox = 0; ox < g->ow; ox++) j->pool_offsets[g->oh + ox] = ox / pool->kw < pool->ow ? (long)(ox / pool->kw) * pool->c : -1;
  }
  for (int r = 0; r < j->rows; r++) {
    const int tap = r / g->c, i = tap / g->kw, k = tap % g->kw;
    j->tap_y[r] = i * g->dh, j->tap_x[r] = k * g->dw, j->channel[r] = r % g->c;
    j->off[r] = ((long)i * g->dh * g->w + (long)k * g->dw) * g->c + r % g->c;
  }
  /* at most 64 chunks of at least 2,048 pixels: a rule of the geometry, not of the thread count */
  j->chunk = (j->pixels + 63) / 64 > 2048 ? (j->pixels + 63) / 64 : 2048;
  const long chunks = (j->pixels + j->chunk - 1) / j->chunk;
  j->partials = scratch(1, (size_t)chunks * j->rows * g->o);
  if (!j->partials) return free(j->pool_offsets), free(j), 0;
  parallel_for(chunks, small_gradient_chunk, j);
  const long size = (long)j->rows * g->o;
  memcpy(dw, j->partials, sizeof(float) * size);
  for (long t = 1; t < chunks; t++)
    for (long i = 0; i < size; i++) dw[i] += j->partials[t * size + i];
  free(j->pool_offsets);
  free(j);
  return 1;
}

static int filter_gradient_small(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  return filter_gradient_small_pooled(x, dy, NULL, NULL, NULL, dw, g);
}
