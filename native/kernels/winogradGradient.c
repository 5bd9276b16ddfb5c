/* latephase native kernels: Winograd filter gradients. Part of the one translation unit native/kernels.c includes. */
/*
 * The filter gradient by the same transforms (F(3x3, 2x2)): for each tile, the 16 products of
 * B^T d B and A dY A^T summed over tiles (16 rank updates per block, as filter_gradient_direct's
 * panels), then dW = G^T M G. A task takes a segment of the tiles (winograd_segments), some of the
 * transforms' rows (so some of the 16 positions) and a range of input channels, over the segment's
 * blocks in order; the segments' sums are added in order (the block size and the segments depend
 * on the geometry only): every M[pos] sums the same products in the same order whatever the
 * thread count. Rows are split first because that divides the transforms' work between the
 * threads; a channel split repeats all of dY's transform in every range (at two threads, a third
 * of the time). Transformed patches use the forward's layout: a packed one cost more in narrow
 * stores than the rank updates gained.
 */
typedef struct {
  winograd_job base;
  const float *dy;
  float *m, *dw;
  /* segments of tiles, each summed into its own M (16 c o floats apart), then added in order */
  int segments;
  long tiles_per_segment;
  int row_ranges, rows_per_task, chunks_per_task;
  atomic_int failed;
} winograd_grad_job;

/*
 * e[pos - 4 * row_lo][t][o] (positions `step` floats apart) = A dY A^T of each of the block's
 * tiles' 2 x 2 output gradients (zeros past the edges), rows [row_lo, row_hi).
 */
static void winograd_output_gradient(const winograd_job *j, const float *dy, long t0, int count, int row_lo, int row_hi, float *e,
                                     long step) {
  const conv_geometry *g = j->g;
  const int o = g->o;
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
      for (int k = row_lo; k < row_hi; k++) {
        float *ek = et + (long)((k - row_lo) * 4) * step;
        store16(ek, f[k][0]);
        store16(ek + step, f[k][0] + f[k][1]);
        store16(ek + 2 * step, f[k][0] - f[k][1]);
        store16(ek + 3 * step, -f[k][1]);
      }
    }
  }
}

/*
 * M[pos] over the task's segment of tiles for its rows of positions and range of input channels
 * (task = segment, then channel range, then row range: a thread's contiguous share of the tasks
 * is a contiguous part of the batch).
 */
static void winograd_filter_gradient_task(void *arg, long task) {
  winograd_grad_job *j = arg;
  const conv_geometry *g = j->base.g;
  const int c = g->c, o = g->o, block = j->base.block;
  const long per_segment = (long)j->row_ranges * ((c / 16 + j->chunks_per_task - 1) / j->chunks_per_task), segment = task / per_segment;
  task %= per_segment;
  const long t_lo = segment * j->tiles_per_segment,
             t_hi = t_lo + j->tiles_per_segment < j->base.tiles ? t_lo + j->tiles_per_segment : j->base.tiles;
  const int row_lo = (int)(task % j->row_ranges) * j->rows_per_task, row_hi = row_lo + j->rows_per_task;
  const int c_lo = (int)(task / j->row_ranges) * j->chunks_per_task * 16;
  const int c_hi = c_lo + j->chunks_per_task * 16 < c ? c_lo + j->chunks_per_task * 16 : c;
  const int width = c_hi - c_lo, groups = width / RB, positions = 4 * (row_hi - row_lo);
  const long sv = position_stride(block, width), se = position_stride(block, o);
  float *v = scratch(0, (size_t)(positions * (sv + se)));
  if (!v) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *e = v + positions * sv;
  const long co = (long)c * o;
  float *m = j->m + segment * 16 * co;
  for (int pos = 4 * row_lo; pos < 4 * row_hi; pos++) memset(m + pos * co + (long)c_lo * o, 0, sizeof(float) * (size_t)width * o);
  const patch_layout layout = {.v = v, .stride = sv, .c_lo = c_lo, .c_hi = c_hi, .row_lo = row_lo, .row_hi = row_hi};
  for (long t0 = t_lo; t0 < t_hi; t0 += block) {
    const int count = (int)(t_hi - t0 < block ? t_hi - t0 : block);
    winograd_input(&j->base, t0, count, &layout);
    winograd_output_gradient(&j->base, j->dy, t0, count, row_lo, row_hi, e, se);
    for (int q = 0; q < positions; q++) {
      const float *ep = e + q * se;
      float *mp = m + (4 * row_lo + q) * co;
      for (int grp = 0; grp < groups; grp++) {
        /* the patches as the forward lays them out: a tile's RB channels sit together, tiles width apart */
        const float *pg = v + q * sv + grp * RB;
        const int r0 = c_lo + grp * RB;
        int o0 = 0;
        for (; o0 + 32 <= o; o0 += 32) update_2(pg, width, ep, count, o, o0, mp, r0, c);
        if (o0 < o) update_1(pg, width, ep, count, o, o0, mp, r0, c);
      }
    }
  }
}

/* M[pos] at `at` (ci * o + o0): the segments' sums added in segment order. */
static inline v16 m_sum(const winograd_grad_job *j, long at) {
  const long size = 16L * j->base.g->c * j->base.g->o;
  v16 sum = load16(j->m + at);
  for (int s = 1; s < j->segments; s++) sum += load16(j->m + s * size + at);
  return sum;
}

/* dW[i][k] = G^T M G for the 16 input channels of chunk `chunk`. */
static void winograd_filter_from_m(void *arg, long chunk) {
  winograd_grad_job *j = arg;
  const int c = j->base.g->c, o = j->base.g->o;
  const long co = (long)c * o;
  for (int ci = (int)chunk * 16; ci < (int)chunk * 16 + 16; ci++)
    for (int o0 = 0; o0 < o; o0 += 16) {
      v16 r[3][4];
      for (int l = 0; l < 4; l++) {
        const long at = (long)ci * o + o0 + l * co;
        const v16 m0 = m_sum(j, at), m1 = m_sum(j, at + 4 * co), m2 = m_sum(j, at + 8 * co), m3 = m_sum(j, at + 12 * co);
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

/*
 * Segments of tiles, from the geometry alone (so every thread count sums alike): 2 where M is
 * small (16 c o <= 64K floats) and there are 4 blocks or more. At two threads each then reads only
 * its half of the batch (the half it wrote in the kernel before, with the pool's contiguous shares)
 * and no transform is repeated; the rows' split made each read all of dY and x, half of them from
 * the other core. WRN-16-4's [64, 32, 32, 64] two threads 12.1 -> 10.4 ms, bench CNN b32's second
 * layer about 1.0 -> 0.85 ms inside a step. Large M (deep layers) keeps one segment: a second copy
 * of it to zero and add costs more there; 4 segments were slower than 2 at two threads.
 */
static int winograd_segments(const conv_geometry *g, long tiles, int block) {
  return 16L * g->c * g->o <= 65536 && tiles >= 4L * block ? 2 : 1;
}

static int filter_gradient_winograd(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  winograd_grad_job j = {.base = {.x = x, .g = g, .tiles_y = (g->oh + 1) / 2, .tiles_x = (g->ow + 1) / 2}, .dy = dy, .dw = dw};
  j.base.tiles = (long)g->n * j.base.tiles_y * j.base.tiles_x;
  const int widest = g->c > g->o ? g->c : g->o;
  j.base.block = PANEL_FLOATS * 2 / (16 * widest) / RB * RB;
  j.base.block = j.base.block < RB ? RB : j.base.block > 128 ? 128 : j.base.block;
  j.segments = winograd_segments(g, j.base.tiles, j.base.block);
  const long blocks = (j.base.tiles + j.base.block - 1) / j.base.block;
  j.tiles_per_segment = (blocks + j.segments - 1) / j.segments * j.base.block;
  j.m = scratch(3, (size_t)j.segments * 16 * g->c * g->o);
  if (!j.m) return 0;
  /* per segment: 1, 2 or 4 ranges of the transforms' rows, then whole 16-channel chunks for more threads */
  const int threads = (pool_workers + j.segments) / j.segments, chunks = g->c / 16;
  j.row_ranges = threads >= 4 ? 4 : threads >= 2 ? 2 : 1;
  j.rows_per_task = 4 / j.row_ranges;
  const int wanted = (threads + j.row_ranges - 1) / j.row_ranges, channel_ranges = wanted < chunks ? wanted : chunks;
  j.chunks_per_task = (chunks + channel_ranges - 1) / channel_ranges;
  atomic_init(&j.failed, 0);
  const long per_segment = (long)j.row_ranges * ((chunks + j.chunks_per_task - 1) / j.chunks_per_task);
  parallel_for(j.segments * per_segment, winograd_filter_gradient_task, &j);
  if (atomic_load(&j.failed)) return 0;
  parallel_for(chunks, winograd_filter_from_m, &j);
  return 1;
}
