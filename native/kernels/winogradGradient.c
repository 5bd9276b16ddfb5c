/* latephase native kernels: Winograd filter gradients. Part of the one translation unit native/kernels.c includes. */
/*
 * The filter gradient by the same transforms (F(3x3, 2x2)): for each tile, the 16 products of
 * B^T d B and A dY A^T summed over tiles (16 rank updates per block, as filter_gradient_direct's
 * panels), then dW = G^T M G. Threads take ranges of input channels, each over every block in
 * order (the block size depends on the geometry only), so the sums do not depend on the count.
 */
typedef struct {
  winograd_job base;
  const float *dy;
  float *m, *dw;
  int chunks_per_task;
  atomic_int failed;
} winograd_grad_job;

/* e[pos][t][o] = A dY A^T of each of the block's tiles' 2 x 2 output gradients (zeros past the edges). */
static void winograd_output_gradient(const winograd_job *j, const float *dy, long t0, int count, float *e) {
  const conv_geometry *g = j->g;
  const int o = g->o, block = j->block;
  const long step = (long)block * o;
  for (int t = 0; t < count; t++) {
    int b, ty, tx;
    tile_position(j, t0 + t, &b, &ty, &tx);
    const int second_row = 2 * ty + 1 < g->oh, second_col = 2 * tx + 1 < g->ow;
    const float *d00 = dy + (((long)b * g->oh + 2 * ty) * g->ow + 2 * tx) * o;
    for (int o0 = 0; o0 < o; o0 += 16) {
      const v16 zero = {0};
      const v16 a0 = load16(d00 + o0), a1 = second_col ? load16(d00 + o + o0) : zero;
      const v16 b0 = second_row ? load16(d00 + (long)g->ow * o + o0) : zero;
      const v16 b1 = second_row && second_col ? load16(d00 + ((long)g->ow + 1) * o + o0) : zero;
      /* rows: f = A dY (4 x 2), then columns: e = f A^T (4 x 4) */
      const v16 f[4][2] = {{a0, a1}, {a0 + b0, a1 + b1}, {a0 - b0, a1 - b1}, {-b0, -b1}};
      float *et = e + (long)t * o + o0;
      for (int k = 0; k < 4; k++) {
        store16(et + (long)(k * 4) * step, f[k][0]);
        store16(et + (long)(k * 4 + 1) * step, f[k][0] + f[k][1]);
        store16(et + (long)(k * 4 + 2) * step, f[k][0] - f[k][1]);
        store16(et + (long)(k * 4 + 3) * step, -f[k][1]);
      }
    }
  }
}

static void winograd_filter_gradient_range(void *arg, long task) {
  winograd_grad_job *j = arg;
  const conv_geometry *g = j->base.g;
  const int c = g->c, o = g->o, block = j->base.block;
  const int c_lo = (int)task * j->chunks_per_task * 16, c_hi = c_lo + j->chunks_per_task * 16 < c ? c_lo + j->chunks_per_task * 16 : c;
  const int width = c_hi - c_lo, groups = width / RB;
  float *v = scratch(0, (size_t)16 * width * block + (size_t)16 * block * o);
  if (!v) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *e = v + (size_t)16 * width * block;
  const long co = (long)c * o;
  for (int pos = 0; pos < 16; pos++) memset(j->m + pos * co + (long)c_lo * o, 0, sizeof(float) * (size_t)width * o);
  const patch_layout layout = {.v = v, .packed = 1, .c_lo = c_lo, .c_hi = c_hi, .block = block};
  for (long t0 = 0; t0 < j->base.tiles; t0 += block) {
    const int count = (int)(j->base.tiles - t0 < block ? j->base.tiles - t0 : block);
    winograd_input(&j->base, t0, count, &layout);
    winograd_output_gradient(&j->base, j->dy, t0, count, e);
    for (int pos = 0; pos < 16; pos++) {
      const float *ep = e + (long)pos * block * o;
      float *mp = j->m + pos * co;
      for (int grp = 0; grp < groups; grp++) {
        const float *pg = v + ((long)pos * groups + grp) * block * RB;
        const int r0 = c_lo + grp * RB;
        int o0 = 0;
        for (; o0 + 32 <= o; o0 += 32) update_2(pg, ep, count, o, o0, mp, r0, c);
        if (o0 < o) update_1(pg, ep, count, o, o0, mp, r0, c);
      }
    }
  }
  /* dW[i][k] = G^T M G for the range's channels */
  for (int ci = c_lo; ci < c_hi; ci++)
    for (int o0 = 0; o0 < o; o0 += 16) {
      v16 r[3][4];
      for (int l = 0; l < 4; l++) {
        const float *mt = j->m + (long)ci * o + o0 + l * co;
        const v16 m0 = load16(mt), m1 = load16(mt + 4 * co), m2 = load16(mt + 8 * co), m3 = load16(mt + 12 * co);
        r[0][l] = m0 + (m1 + m2) * 0.5f;
        r[1][l] = (m1 - m2) * 0.5f;
        r[2][l] = (m1 + m2) * 0.5f + m3;
      }
      for (int i = 0; i < 3; i++) {
        float *out = j->dw + ((long)(i * 3) * c + ci) * o + o0;
        store16(out, r[i][0] + (r[i][1] + r[i][2]) * 0.5f);
        store16(out + co, (r[i][1] - r[i][2]) * 0.5f);
        store16(out + 2 * co, (r[i][1] + r[i][2]) * 0.5f + r[i][3]);
      }
    }
}

static int filter_gradient_winograd(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  float *m = scratch(3, (size_t)16 * g->c * g->o);
  if (!m) return 0;
  winograd_grad_job j = {.base = {.x = x, .g = g, .tiles_y = (g->oh + 1) / 2, .tiles_x = (g->ow + 1) / 2}, .dy = dy, .m = m, .dw = dw};
  j.base.tiles = (long)g->n * j.base.tiles_y * j.base.tiles_x;
  const int widest = g->c > g->o ? g->c : g->o;
  j.base.block = PANEL_FLOATS * 2 / (16 * widest) / RB * RB;
  j.base.block = j.base.block < RB ? RB : j.base.block > 128 ? 128 : j.base.block;
  /* one range of whole 16-channel chunks per thread: each range transforms all of dy again */
  const int chunks = g->c / 16, ranges = pool_workers + 1 < chunks ? pool_workers + 1 : chunks;
  j.chunks_per_task = pool_workers == 0 ? chunks : (chunks + ranges - 1) / ranges;
  atomic_init(&j.failed, 0);
  parallel_for((chunks + j.chunks_per_task - 1) / j.chunks_per_task, winograd_filter_gradient_range, &j);
  return !atomic_load(&j.failed);
}
