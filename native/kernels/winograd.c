/* latephase native kernels: Winograd F(2x2, 3x3) forward convolutions. Part of the one translation unit native/kernels.c includes. */
/*
 * Winograd F(2x2, 3x3) for 3 x 3 convolutions of stride and dilation 1 (most of a ResNet's work):
 * each 2 x 2 output tile from a 4 x 4 input patch, with 16 multiplies per channel pair where the
 * direct form needs 36, so 2.25x fewer multiply-adds. Per block of tiles: the input patches
 * transformed (V = B^T d B, per channel), 16 GEMMs V[pos] [tiles, c] x U[pos] [c, o] on the
 * forward tiles, and the output transform (Y = A^T M A). U = G g G^T is computed once per call.
 * The transforms only add and halve, so the results differ from the direct form by rounding only
 * (tests: against onnxruntime within 1e-5 of the output's scale, as the direct form).
 */
static int winograd_applies(const conv_geometry *g) {
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->c % 16 == 0 && g->o % 16 == 0;
}

/* u [16][c][o] = G g G^T for every (ci, oc), g = w[.][.][ci][oc]; 16 output channels at a time. */
static void winograd_filter(const float *w, int c, int o, float *u) {
  const long co = (long)c * o;
  for (int ci = 0; ci < c; ci++)
    for (int oc = 0; oc < o; oc += 16) {
      v16 g[3][3], t[4][3];
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) g[i][j] = load16(w + (i * 3 + j) * co + (long)ci * o + oc);
      for (int j = 0; j < 3; j++) {
        t[0][j] = g[0][j];
        t[1][j] = (g[0][j] + g[1][j] + g[2][j]) * 0.5f;
        t[2][j] = (g[0][j] - g[1][j] + g[2][j]) * 0.5f;
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; i++) {
        float *out = u + (long)(i * 4) * co + (long)ci * o + oc;
        store16(out, t[i][0]);
        store16(out + co, (t[i][0] + t[i][1] + t[i][2]) * 0.5f);
        store16(out + 2 * co, (t[i][0] - t[i][1] + t[i][2]) * 0.5f);
        store16(out + 3 * co, t[i][2]);
      }
    }
}

typedef struct {
  const float *x, *u;
  float *y;
  const conv_geometry *g;
  int tiles_y, tiles_x, block;
  long tiles;
  atomic_int failed;
} winograd_job;

/* Tile `tile`'s image and tile row and column (tiles run along rows, then down, then over images). */
static inline void tile_position(const winograd_job *j, long tile, int *b, int *ty, int *tx) {
  *tx = (int)(tile % j->tiles_x);
  *ty = (int)(tile / j->tiles_x % j->tiles_y);
  *b = (int)(tile / ((long)j->tiles_x * j->tiles_y));
}

/*
 * Where the transformed patches go: v [pos - 4 * row_lo][t][c - c_lo] for the positions of the 4 x 4
 * transform's rows [row_lo, row_hi) (all four for the forward; the filter gradient's tasks take
 * disjoint rows) and channels [c_lo, c_hi).
 */
typedef struct {
  float *v;
  long stride; /* floats from one position's [t][c] to the next: position_stride */
  int c_lo, c_hi, row_lo, row_hi;
} patch_layout;

/*
 * Floats from one position's block of tiles to the next, [block][width] plus one cache line: at
 * a multiple of 4 KB the 16 streams of a patch's stores (or of the output transform's loads)
 * fall in the same L1 sets and evict each other.
 */
static inline long position_stride(int block, int width) { return (long)block * width + 16; }

static inline void put_patch(const patch_layout *l, int pos, int t, int c0, v16 val) {
  store16(l->v + (long)(pos - 4 * l->row_lo) * l->stride + (long)t * (l->c_hi - l->c_lo) + (c0 - l->c_lo), val);
}

/* B^T d B of each of the block's tiles' 4 x 4 patches (zeros outside x), channels [c_lo, c_hi). */
static void winograd_input(const winograd_job *j, long t0, int count, const patch_layout *l) {
  const conv_geometry *g = j->g;
  const int c = g->c;
  for (int t = 0; t < count; t++) {
    int b, ty, tx;
    tile_position(j, t0 + t, &b, &ty, &tx);
    /* offsets of the patch's cells in x; -1 outside */
    long cell[4][4];
    for (int i = 0; i < 4; i++)
      for (int k = 0; k < 4; k++) {
        const int iy = 2 * ty - g->pt + i, ix = 2 * tx - g->pl + k;
        cell[i][k] = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? (((long)b * g->h + iy) * g->w + ix) * c : -1;
      }
    for (int c0 = l->c_lo; c0 < l->c_hi; c0 += 16) {
      v16 d[4][4], s[4][4];
      for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++) d[i][k] = cell[i][k] >= 0 ? load16(j->x + cell[i][k] + c0) : (v16){0};
      for (int k = 0; k < 4; k++) {
        s[0][k] = d[0][k] - d[2][k];
        s[1][k] = d[1][k] + d[2][k];
        s[2][k] = d[2][k] - d[1][k];
        s[3][k] = d[1][k] - d[3][k];
      }
      for (int i = l->row_lo; i < l->row_hi; i++) {
        put_patch(l, i * 4, t, c0, s[i][0] - s[i][2]);
        put_patch(l, i * 4 + 1, t, c0, s[i][1] + s[i][2]);
        put_patch(l, i * 4 + 2, t, c0, s[i][2] - s[i][1]);
        put_patch(l, i * 4 + 3, t, c0, s[i][1] - s[i][3]);
      }
    }
  }
}

/* y's 2 x 2 tiles (clipped at the edges) from m[pos][t][o] (positions `step` floats apart): A^T M A. */
static void winograd_output(const winograd_job *j, long t0, int count, const float *m, long step) {
  const conv_geometry *g = j->g;
  const int o = g->o;
  for (int t = 0; t < count; t++) {
    int b, ty, tx;
    tile_position(j, t0 + t, &b, &ty, &tx);
    const int rows_out = 2 * ty + 1 < g->oh ? 2 : 1, cols_out = 2 * tx + 1 < g->ow ? 2 : 1;
    for (int o0 = 0; o0 < o; o0 += 16) {
      v16 q[2][4];
      const float *mt = m + (long)t * o + o0;
      for (int k = 0; k < 4; k++) {
        const v16 m0 = load16(mt + (long)k * step), m1 = load16(mt + (long)(4 + k) * step), m2 = load16(mt + (long)(8 + k) * step),
                  m3 = load16(mt + (long)(12 + k) * step);
        q[0][k] = m0 + m1 + m2;
        q[1][k] = m1 - m2 - m3;
      }
      for (int a = 0; a < rows_out; a++) {
        float *yr = j->y + (((long)b * g->oh + 2 * ty + a) * g->ow + 2 * tx) * o + o0;
        store16(yr, q[a][0] + q[a][1] + q[a][2]);
        if (cols_out == 2) store16(yr + o, q[a][1] - q[a][2] - q[a][3]);
      }
    }
  }
}

static void winograd_block(void *arg, long task) {
  winograd_job *j = arg;
  const int c = j->g->c, o = j->g->o, block = j->block;
  const long t0 = task * block;
  const int count = (int)(j->tiles - t0 < block ? j->tiles - t0 : block);
  /* RB spare rows after v's last position: a short last tile of the GEMM reads them */
  const long sv = position_stride(block, c), sm = position_stride(block, o);
  float *v = scratch(0, (size_t)(16 * sv + RB * c + 16 * sm));
  if (!v) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *m = v + 16 * sv + RB * c;
  const patch_layout layout = {.v = v, .stride = sv, .c_lo = 0, .c_hi = c, .row_lo = 0, .row_hi = 4};
  winograd_input(j, t0, count, &layout);
  for (int pos = 0; pos < 16; pos++) {
    const float *vp = v + pos * sv, *up = j->u + (long)pos * c * o;
    float *mp = m + pos * sm;
    for (int r0 = 0; r0 < c; r0 += KC) {
      const int r1 = r0 + KC < c ? r0 + KC : c;
      int o0 = 0;
      for (; o0 + 32 <= o; o0 += 32)
        for (int tb = 0; tb < count; tb += RB)
          forward_2(vp + (long)tb * c, c, r0, r1, count - tb < RB ? count - tb : RB, up, o, o0, mp + (long)tb * o);
      if (o0 < o)
        for (int tb = 0; tb < count; tb += RB)
          forward_1(vp + (long)tb * c, c, r0, r1, count - tb < RB ? count - tb : RB, up, o, o0, mp + (long)tb * o);
    }
  }
  winograd_output(j, t0, count, m, sm);
}

static int conv_winograd(const float *x, const float *w, float *y, const conv_geometry *g) {
  float *u = scratch(3, (size_t)16 * g->c * g->o);
  if (!u) return 0;
  winograd_filter(w, g->c, g->o, u);
  winograd_job j = {.x = x, .u = u, .y = y, .g = g, .tiles_y = (g->oh + 1) / 2, .tiles_x = (g->ow + 1) / 2};
  j.tiles = (long)g->n * j.tiles_y * j.tiles_x;
  /* tiles per block: the block's transformed patches and products about 512 KB (L2) */
  const int widest = g->c > g->o ? g->c : g->o;
  j.block = PANEL_FLOATS * 2 / (16 * widest) / RB * RB;
  j.block = j.block < RB ? RB : j.block > 128 ? 128 : j.block;
  atomic_init(&j.failed, 0);
  parallel_for((j.tiles + j.block - 1) / j.block, winograd_block, &j);
  return !atomic_load(&j.failed);
}
