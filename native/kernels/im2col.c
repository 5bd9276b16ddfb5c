/* latephase native kernels: im2col panels and GEMM tiles: the direct forward convolution and filter gradient. Part of the one translation unit native/kernels.c includes. */
/* Pixels per panel: about 256 KB of packed columns (L2), 64 to 512 pixels (bench/README.md#native-kernels). */
#define PANEL_FLOATS 65536
#define NP_MIN 64
#define NP_MAX 512

/*
 * Rows of the filter gradient packed RB at a time (RB consecutive rows of one pixel sit together):
 * 8 where AVX-512's 32 vector registers hold 8 x 2 accumulators, else 4 (AVX2's 16 would spill).
 */
#ifdef __AVX512F__
#define RB 8
#else
#define RB 4
#endif

/*
 * Pack row groups [g0, g1) (rows [g0 * RB, g1 * RB)) of pixels [p0, p0 + np) of the image columns
 * (im2col, rows r = (i * kw + j) * c + ci) into panel[(r / RB - g0) * np * RB + p * RB + r % RB];
 * rows past the last are zero.
 */
static void pack_panel(const float *x, const conv_geometry *g, long p0, int np, int g0, int g1, float *panel) {
  const int c = g->c;
  const int rows = g->kh * g->kw * c;
  for (int r = rows > g0 * RB ? rows : g0 * RB; r < g1 * RB; r++)
    for (int p = 0; p < np; p++) panel[((long)(r / RB - g0) * np + p) * RB + r % RB] = 0;
  long pix = p0;
  int ox = (int)(pix % g->ow), oy = (int)((pix / g->ow) % g->oh), b = (int)(pix / ((long)g->ow * g->oh));
  for (int p = 0; p < np; p++) {
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pt + i * g->dh;
      for (int j = 0; j < g->kw; j++) {
        const int r0 = (i * g->kw + j) * c;
        if (r0 >= g1 * RB || r0 + c <= g0 * RB) continue; /* no row of this tap in the range */
        const int ix = ox * g->sw - g->pl + j * g->dw;
        const int inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
        const float *src = x + (((long)b * g->h + iy) * g->w + ix) * c;
        if (c % RB == 0) {
          /* whole row groups: one RB-float copy (or clear) per group in the range */
          for (int ci = 0; ci < c; ci += RB) {
            const int group = (r0 + ci) / RB;
            if (group < g0 || group >= g1) continue;
            float *dst = panel + ((long)(group - g0) * np + p) * RB;
            if (inside)
              memcpy(dst, src + ci, sizeof(float) * RB);
            else
              memset(dst, 0, sizeof(float) * RB);
          }
        } else {
          /* a few channels (a first layer): element by element, group and lane stepped, not divided */
          int group = r0 / RB, lane = r0 % RB;
          for (int ci = 0; ci < c; ci++) {
            if (group >= g0 && group < g1) panel[((long)(group - g0) * np + p) * RB + lane] = inside ? src[ci] : 0;
            if (++lane == RB) lane = 0, group++;
          }
        }
      }
    }
    if (++ox == g->ow) {
      ox = 0;
      if (++oy == g->oh) oy = 0, b++;
    }
  }
}

/*
 * dw[r0 .. r0 + RB) x [o0, o0 + 16 * V) += packed rows^T * dy rows: RB x V accumulators held in
 * registers over the panel's pixels (V = 2: 32 output channels; V = 1 for a 16-wide remainder).
 * Pixel p's RB rows start at pg + p * ps (ps = RB for a packed panel).
 */
#define UPDATE(V)                                                                                                                          \
  static void update_##V(const float *pg, int ps, const float *dy, int np, int o, int o0, float *dw, int r0, int rows) {                   \
    v16 acc[RB][V];                                                                                                                        \
    for (int k = 0; k < RB; k++)                                                                                                           \
      for (int v = 0; v < V; v++) acc[k][v] = (v16){0};                                                                                    \
    for (int p = 0; p < np; p++) {                                                                                                         \
      v16 d[V];                                                                                                                            \
      for (int v = 0; v < V; v++) d[v] = load16(dy + (long)p * o + o0 + 16 * v);                                                           \
      const float *a = pg + (long)p * ps;                                                                                                  \
      for (int k = 0; k < RB; k++)                                                                                                         \
        for (int v = 0; v < V; v++) acc[k][v] += a[k] * d[v];                                                                              \
    }                                                                                                                                      \
    for (int k = 0; k < RB && r0 + k < rows; k++)                                                                                          \
      for (int v = 0; v < V; v++) {                                                                                                        \
        float *out = dw + (long)(r0 + k) * o + o0 + 16 * v;                                                                                \
        store16(out, load16(out) + acc[k][v]);                                                                                             \
      }                                                                                                                                    \
  }
UPDATE(2)
UPDATE(1)

/* The same for output channels [o0, o1) with o1 - o0 < 16, scalar. */
static void update_tail(const float *pg, const float *dy, int np, int o, int o0, int o1, float *dw, int r0, int rows) {
  for (int k = 0; k < RB && r0 + k < rows; k++) {
    for (int oc = o0; oc < o1; oc++) {
      float s = 0;
      for (int p = 0; p < np; p++) s += pg[p * RB + k] * dy[(long)p * o + oc];
      dw[(long)(r0 + k) * o + oc] += s;
    }
  }
}

/*
 * Filter gradient dw [kh * kw * c, o] = sum over output pixels of im2col(x)^T dy, a panel of
 * pixels at a time (the panel sized to stay in L2), each panel one rank-np update in registers.
 * Threads take disjoint ranges of dw's rows, each over every panel in order (the panel size
 * depends on the geometry only), so the sums do not depend on the thread count.
 */
typedef struct {
  const float *x, *dy;
  float *dw;
  const conv_geometry *g;
  int rows, groups, groups_per_task, np;
  long pixels;
  atomic_int failed;
} filter_job;

static void filter_gradient_rows(void *arg, long task) {
  filter_job *f = arg;
  const int o = f->g->o, rows = f->rows, np = f->np;
  const int g0 = (int)task * f->groups_per_task, g1 = g0 + f->groups_per_task < f->groups ? g0 + f->groups_per_task : f->groups;
  float *panel = scratch(0, (size_t)(g1 - g0) * RB * np);
  if (!panel) {
    atomic_store(&f->failed, 1);
    return;
  }
  const int r_end = g1 * RB < rows ? g1 * RB : rows;
  memset(f->dw + (long)g0 * RB * o, 0, sizeof(float) * (size_t)(r_end - g0 * RB) * o);
  for (long p0 = 0; p0 < f->pixels; p0 += np) {
    const int count = (int)(f->pixels - p0 < np ? f->pixels - p0 : np);
    pack_panel(f->x, f->g, p0, count, g0, g1, panel);
    const float *dyp = f->dy + p0 * o;
    for (int r0 = g0 * RB; r0 < r_end; r0 += RB) {
      const float *pg = panel + (long)(r0 / RB - g0) * count * RB;
      int o0 = 0;
      for (; o0 + 32 <= o; o0 += 32) update_2(pg, RB, dyp, count, o, o0, f->dw, r0, rows);
      if (o0 + 16 <= o) update_1(pg, RB, dyp, count, o, o0, f->dw, r0, rows), o0 += 16;
      if (o0 < o) update_tail(pg, dyp, count, o, o0, o, f->dw, r0, rows);
    }
  }
}

static int filter_gradient_direct(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  const int rows = g->kh * g->kw * g->c;
  const int groups = (rows + RB - 1) / RB;
  int np = PANEL_FLOATS / (groups * RB);
  np = np < NP_MIN ? NP_MIN : np > NP_MAX ? NP_MAX : np;
  /* one range per thread: each range reads all of dy again (two per thread were 25% slower on two threads) */
  const int ranges = pool_workers + 1 < groups ? pool_workers + 1 : groups;
  filter_job f = {.x = x, .dy = dy, .dw = dw, .g = g, .rows = rows, .groups = groups, .np = np, .pixels = (long)g->n * g->oh * g->ow};
  f.groups_per_task = pool_workers == 0 ? groups : (groups + ranges - 1) / ranges;
  atomic_init(&f.failed, 0);
  parallel_for((groups + f.groups_per_task - 1) / f.groups_per_task, filter_gradient_rows, &f);
  return !atomic_load(&f.failed);
}

/*
 * Forward convolution y [n * oh * ow, o] = im2col(x) [.., kh * kw * c] * w [kh * kw * c, o]: im2col
 * rows for a panel of pixels (one copy per tap), then RB pixels x 32 output channels per register
 * tile, reducing over the whole filter (w's 32-column slice stays in L2).
 */
static void pack_rows(const float *x, const conv_geometry *g, long p0, int np, float *panel) {
  const int c = g->c, rows = g->kh * g->kw * c;
  long pix = p0;
  int ox = (int)(pix % g->ow), oy = (int)((pix / g->ow) % g->oh), b = (int)(pix / ((long)g->ow * g->oh));
  for (int p = 0; p < np; p++) {
    float *row = panel + (long)p * rows;
    const int iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    if (c < 16 && iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {
      /* a few channels (a first layer), window inside the image: copied in place, no checks (a
         memcpy call per tap, or a check per value, cost more than the copy) */
      const float *base = x + (((long)b * g->h + iy0) * g->w + ix0) * c;
      for (int i = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++, row += c) {
          const float *src = base + ((long)i * g->dh * g->w + (long)j * g->dw) * c;
          for (int ci = 0; ci < c; ci++) row[ci] = src[ci];
        }
    } else
      for (int i = 0; i < g->kh; i++) {
        const int iy = iy0 + i * g->dh;
        for (int j = 0; j < g->kw; j++) {
          const int ix = ix0 + j * g->dw;
          float *dst = row + (i * g->kw + j) * c;
          if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
            memcpy(dst, x + (((long)b * g->h + iy) * g->w + ix) * c, sizeof(float) * c);
          else
            memset(dst, 0, sizeof(float) * c);
        }
      }
    if (++ox == g->ow) {
      ox = 0;
      if (++oy == g->oh) oy = 0, b++;
    }
  }
}

/* Reduction rows per block: a 32-column slice of w over KC rows is 32 KB (L1). */
#define KC 256

/*
 * y[RB pixels][o0 .. o0 + 16 * V) (+)= rows [r0, r1) of the tile's im2col rows * w: RB x V
 * accumulators over the block; the first block starts from zero, later ones add to y.
 */
#define FORWARD_TILE(V)                                                                                                                    \
  static void forward_##V(const float *tile, int rows, int r0, int r1, int k_count, const float *w, int o, int o0, float *y) {             \
    v16 acc[RB][V];                                                                                                                        \
    for (int k = 0; k < RB; k++)                                                                                                           \
      for (int v = 0; v < V; v++) acc[k][v] = r0 == 0 || k >= k_count ? (v16){0} : load16(y + (long)k * o + o0 + 16 * v);                  \
    for (int r = r0; r < r1; r++) {                                                                                                        \
      v16 wv[V];                                                                                                                           \
      for (int v = 0; v < V; v++) wv[v] = load16(w + (long)r * o + o0 + 16 * v);                                                           \
      for (int k = 0; k < RB; k++) {                                                                                                       \
        const float a = tile[(long)k * rows + r];                                                                                          \
        for (int v = 0; v < V; v++) acc[k][v] += a * wv[v];                                                                                \
      }                                                                                                                                    \
    }                                                                                                                                      \
    for (int k = 0; k < k_count; k++)                                                                                                      \
      for (int v = 0; v < V; v++) store16(y + (long)k * o + o0 + 16 * v, acc[k][v]);                                                       \
  }
FORWARD_TILE(2)
FORWARD_TILE(1)

static void forward_scalar(const float *tile, int rows, int r0, int r1, int k_count, const float *w, int o, int o0, float *y) {
  for (int k = 0; k < k_count; k++)
    for (int oc = o0; oc < o; oc++) {
      float s = r0 == 0 ? 0 : y[(long)k * o + oc];
      for (int r = r0; r < r1; r++) s += tile[(long)k * rows + r] * w[(long)r * o + oc];
      y[(long)k * o + oc] = s;
    }
}

/* Threads take whole panels of output pixels (disjoint rows of y). */
typedef struct {
  const float *x, *w;
  float *y;
  const conv_geometry *g;
  int rows, np;
  long pixels;
  atomic_int failed;
} forward_job;

static void forward_panel(void *arg, long task) {
  forward_job *f = arg;
  const int rows = f->rows, o = f->g->o, np = f->np;
  /* RB spare rows: a last partial tile reads them (its results are not stored; zeroed below) */
  float *panel = scratch(0, (size_t)(np + RB) * rows);
  if (!panel) {
    atomic_store(&f->failed, 1);
    return;
  }
  const long p0 = task * np;
  const int count = (int)(f->pixels - p0 < np ? f->pixels - p0 : np);
  const float *w = f->w;
  float *y = f->y + p0 * o;
  pack_rows(f->x, f->g, p0, count, panel);
  memset(panel + (size_t)count * rows, 0, sizeof(float) * (size_t)RB * rows);
  for (int r0 = 0; r0 < rows; r0 += KC) {
    const int r1 = r0 + KC < rows ? r0 + KC : rows;
    int o0 = 0;
    for (; o0 + 32 <= o; o0 += 32)
      for (int pb = 0; pb < count; pb += RB)
        forward_2(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
    if (o0 + 16 <= o) {
      for (int pb = 0; pb < count; pb += RB)
        forward_1(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
      o0 += 16;
    }
    if (o0 < o)
      for (int pb = 0; pb < count; pb += RB)
        forward_scalar(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
  }
}
