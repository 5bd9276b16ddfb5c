/*
 * latephase's native CPU kernels, for the wasm backend: the few kernels whose best formulation on
 * onnxruntime or XNNPACK stays far behind a tuned library (bench/README.md#native-kernels). They
 * read and write tfjs's wasm heap in place through typed arrays, on the calling thread.
 * Built by native/build.js with the machine's C compiler (-O3 -march=native); optional: without
 * it the onnxruntime formulations run. GCC/Clang vector extensions keep one source for AVX-512,
 * AVX2 or SSE: the compiler splits 16-float vectors into what the target has.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64), aligned(4)));

static inline v16 load16(const float *p) { return *(const v16 *)p; }
static inline void store16(float *p, v16 v) { *(v16 *)p = v; }

/* Geometry of a 2-D convolution, NHWC input [n, h, w, c], filter [kh, kw, c, o], output [n, oh, ow, o]. */
typedef struct {
  int n, h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl;
} conv_geometry;

/*
 * Per-thread scratch buffers, grown as needed and kept: a fresh malloc of a panel per call was an
 * mmap and munmap per call (above glibc's threshold), page faults every time, and with data-parallel
 * workers two threads contending for the process's memory map. Slots: 0 panels, 1 transformed
 * filters, 2 a short last tile, 3 Winograd-transformed filters.
 */
#define SCRATCH_SLOTS 4
static __thread float *scratch_buffers[SCRATCH_SLOTS];
static __thread size_t scratch_capacity[SCRATCH_SLOTS];

static float *scratch(int slot, size_t floats) {
  if (scratch_capacity[slot] < floats) {
    free(scratch_buffers[slot]);
    scratch_buffers[slot] = malloc(sizeof(float) * floats);
    scratch_capacity[slot] = scratch_buffers[slot] ? floats : 0;
  }
  return scratch_buffers[slot];
}

static void free_scratch(void) {
  for (int i = 0; i < SCRATCH_SLOTS; i++) free(scratch_buffers[i]), scratch_buffers[i] = NULL, scratch_capacity[i] = 0;
}

/*
 * Worker threads for the kernels (setThreads; none by default: the calling thread alone). Each
 * kernel splits its work into tasks whose results do not depend on which thread runs them or in
 * what order: disjoint outputs, or partial sums combined afterwards in a fixed order. So every
 * thread count gives the same bits. One job at a time: a caller that finds the pool busy (another
 * Node thread) runs its tasks alone.
 */
typedef void (*task_fn)(void *ctx, long task);

typedef struct {
  task_fn fn;
  void *ctx;
  long tasks, done, generation;
  atomic_long next;
  int inside; /* workers that joined the job and have not left it */
} pool_job;

#define MAX_THREADS 64
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER; /* held while a job runs or the pool is resized */
static pool_job *pool_current;
static long pool_generation;
static int pool_workers, pool_stop;
static pthread_t pool_ids[MAX_THREADS];

static long run_tasks(pool_job *j) {
  long t, mine = 0;
  while ((t = atomic_fetch_add(&j->next, 1)) < j->tasks) j->fn(j->ctx, t), mine++;
  return mine;
}

static void *pool_worker(void *unused) {
  (void)unused;
  long seen = 0;
  pthread_mutex_lock(&pool_lock);
  for (;;) {
    while (!pool_stop && (!pool_current || pool_current->generation == seen)) pthread_cond_wait(&pool_wake, &pool_lock);
    if (pool_stop) break;
    pool_job *j = pool_current;
    seen = j->generation;
    j->inside++;
    pthread_mutex_unlock(&pool_lock);
    const long mine = run_tasks(j);
    pthread_mutex_lock(&pool_lock);
    j->done += mine;
    if (--j->inside == 0 && j->done == j->tasks) pthread_cond_signal(&pool_done);
  }
  pthread_mutex_unlock(&pool_lock);
  free_scratch();
  return NULL;
}

/* fn(ctx, t) for t in [0, tasks), on the calling thread and the pool's workers; returns when all ran. */
static void parallel_for(long tasks, task_fn fn, void *ctx) {
  pool_job j = {.fn = fn, .ctx = ctx, .tasks = tasks};
  atomic_init(&j.next, 0);
  if (tasks <= 1 || pool_workers == 0 || pthread_mutex_trylock(&pool_owner) != 0) {
    run_tasks(&j);
    return;
  }
  pthread_mutex_lock(&pool_lock);
  j.generation = ++pool_generation;
  pool_current = &j;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  const long mine = run_tasks(&j);
  pthread_mutex_lock(&pool_lock);
  j.done += mine;
  while (j.done < j.tasks || j.inside > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pool_current = NULL;
  pthread_mutex_unlock(&pool_lock);
  pthread_mutex_unlock(&pool_owner);
}

/* Threads the kernels use, the caller included: stops the workers there are, starts threads - 1. */
static int pool_resize(int threads) {
  threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
  pthread_mutex_lock(&pool_owner);
  pthread_mutex_lock(&pool_lock);
  pool_stop = 1;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  for (int i = 0; i < pool_workers; i++) pthread_join(pool_ids[i], NULL);
  pool_stop = 0;
  pool_workers = 0;
  while (pool_workers < threads - 1 && pthread_create(&pool_ids[pool_workers], NULL, pool_worker, NULL) == 0) pool_workers++;
  pthread_mutex_unlock(&pool_owner);
  return pool_workers + 1;
}

/* Tasks of about `grain` items each over `items` (at least one). */
static long task_count(long items, long grain) { return items <= grain ? 1 : (items + grain - 1) / grain; }

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
            if (inside) memcpy(dst, src + ci, sizeof(float) * RB);
            else memset(dst, 0, sizeof(float) * RB);
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
 */
#define UPDATE(V)                                                                                     \
  static void update_##V(const float *pg, const float *dy, int np, int o, int o0, float *dw, int r0, int rows) { \
    v16 acc[RB][V];                                                                                   \
    for (int k = 0; k < RB; k++)                                                                      \
      for (int v = 0; v < V; v++) acc[k][v] = (v16){0};                                               \
    for (int p = 0; p < np; p++) {                                                                    \
      v16 d[V];                                                                                       \
      for (int v = 0; v < V; v++) d[v] = load16(dy + (long)p * o + o0 + 16 * v);                      \
      const float *a = pg + p * RB;                                                                   \
      for (int k = 0; k < RB; k++)                                                                    \
        for (int v = 0; v < V; v++) acc[k][v] += a[k] * d[v];                                         \
    }                                                                                                 \
    for (int k = 0; k < RB && r0 + k < rows; k++)                                                     \
      for (int v = 0; v < V; v++) {                                                                   \
        float *out = dw + (long)(r0 + k) * o + o0 + 16 * v;                                           \
        store16(out, load16(out) + acc[k][v]);                                                        \
      }                                                                                               \
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
      for (; o0 + 32 <= o; o0 += 32) update_2(pg, dyp, count, o, o0, f->dw, r0, rows);
      if (o0 + 16 <= o) update_1(pg, dyp, count, o, o0, f->dw, r0, rows), o0 += 16;
      if (o0 < o) update_tail(pg, dyp, count, o, o0, o, f->dw, r0, rows);
    }
  }
}

static int filter_gradient_direct(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  const int rows = g->kh * g->kw * g->c;
  const int groups = (rows + RB - 1) / RB;
  int np = PANEL_FLOATS / (groups * RB);
  np = np < NP_MIN ? NP_MIN : np > NP_MAX ? NP_MAX : np;
  /* two ranges per thread: some balance on a busy machine, few re-reads of dy */
  const int ranges = 2 * (pool_workers + 1) < groups ? 2 * (pool_workers + 1) : groups;
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
          if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w) memcpy(dst, x + (((long)b * g->h + iy) * g->w + ix) * c, sizeof(float) * c);
          else memset(dst, 0, sizeof(float) * c);
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
#define FORWARD_TILE(V)                                                                               \
  static void forward_##V(const float *tile, int rows, int r0, int r1, int k_count, const float *w, int o, int o0, float *y) { \
    v16 acc[RB][V];                                                                                   \
    for (int k = 0; k < RB; k++)                                                                      \
      for (int v = 0; v < V; v++) acc[k][v] = r0 == 0 || k >= k_count ? (v16){0} : load16(y + (long)k * o + o0 + 16 * v); \
    for (int r = r0; r < r1; r++) {                                                                   \
      v16 wv[V];                                                                                      \
      for (int v = 0; v < V; v++) wv[v] = load16(w + (long)r * o + o0 + 16 * v);                      \
      for (int k = 0; k < RB; k++) {                                                                  \
        const float a = tile[(long)k * rows + r];                                                     \
        for (int v = 0; v < V; v++) acc[k][v] += a * wv[v];                                           \
      }                                                                                               \
    }                                                                                                 \
    for (int k = 0; k < k_count; k++)                                                                 \
      for (int v = 0; v < V; v++) store16(y + (long)k * o + o0 + 16 * v, acc[k][v]);                  \
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
      for (int pb = 0; pb < count; pb += RB) forward_2(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
    if (o0 + 16 <= o) {
      for (int pb = 0; pb < count; pb += RB) forward_1(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
      o0 += 16;
    }
    if (o0 < o)
      for (int pb = 0; pb < count; pb += RB)
        forward_scalar(panel + (long)pb * rows, rows, r0, r1, count - pb < RB ? count - pb : RB, w, o, o0, y + (long)pb * o);
  }
}

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
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 && g->c % 16 == 0 &&
         g->o % 16 == 0;
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
 * Where the transformed patches go: [pos][t][c] for the forward GEMM, or packed for the filter
 * gradient's rank updates, [pos][channel group][t][RB] over channels [c_lo, c_hi).
 */
typedef struct {
  float *v;
  int packed, c_lo, c_hi, block;
} patch_layout;

static inline void put_patch(const patch_layout *l, int pos, int t, int c0, v16 val) {
  const int width = l->c_hi - l->c_lo;
  if (!l->packed) {
    store16(l->v + ((long)pos * l->block + t) * width + (c0 - l->c_lo), val);
    return;
  }
  float lanes[16];
  store16(lanes, val);
  for (int k = 0; k < 16; k += RB) {
    const int group = (c0 - l->c_lo + k) / RB;
    memcpy(l->v + (((long)pos * (width / RB) + group) * l->block + t) * RB, lanes + k, sizeof(float) * RB);
  }
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
      for (int i = 0; i < 4; i++) {
        put_patch(l, i * 4, t, c0, s[i][0] - s[i][2]);
        put_patch(l, i * 4 + 1, t, c0, s[i][1] + s[i][2]);
        put_patch(l, i * 4 + 2, t, c0, s[i][2] - s[i][1]);
        put_patch(l, i * 4 + 3, t, c0, s[i][1] - s[i][3]);
      }
    }
  }
}

/* y's 2 x 2 tiles (clipped at the edges) from m[pos][t][o]: A^T M A. */
static void winograd_output(const winograd_job *j, long t0, int count, const float *m) {
  const conv_geometry *g = j->g;
  const int o = g->o, block = j->block;
  const long step = (long)block * o;
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
  float *v = scratch(0, (size_t)(16 * block + RB) * c + (size_t)16 * block * o);
  if (!v) {
    atomic_store(&j->failed, 1);
    return;
  }
  float *m = v + (size_t)(16 * block + RB) * c;
  const patch_layout layout = {.v = v, .c_lo = 0, .c_hi = c, .block = block};
  winograd_input(j, t0, count, &layout);
  for (int pos = 0; pos < 16; pos++) {
    const float *vp = v + (long)pos * block * c, *up = j->u + (long)pos * c * o;
    float *mp = m + (long)pos * block * o;
    for (int r0 = 0; r0 < c; r0 += KC) {
      const int r1 = r0 + KC < c ? r0 + KC : c;
      int o0 = 0;
      for (; o0 + 32 <= o; o0 += 32)
        for (int tb = 0; tb < count; tb += RB) forward_2(vp + (long)tb * c, c, r0, r1, count - tb < RB ? count - tb : RB, up, o, o0, mp + (long)tb * o);
      if (o0 < o)
        for (int tb = 0; tb < count; tb += RB) forward_1(vp + (long)tb * c, c, r0, r1, count - tb < RB ? count - tb : RB, up, o, o0, mp + (long)tb * o);
    }
  }
  winograd_output(j, t0, count, m);
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
 * part[r0 .. r0 + R) x [o0, o0 + 16 * V) = sums over pixels [p0, p1): R x V accumulators. Inside
 * the image a window's rows are fixed offsets from its first cell (padding rows read that cell;
 * their sums are never stored).
 */
#define SMALL_GRADIENT_TILE(NAME, R, V)                                                               \
  static void NAME(const small_grad_job *j, long p0, long p1, int r0, int o0, float *part) {          \
    const conv_geometry *g = j->g;                                                                    \
    const int o = g->o;                                                                               \
    v16 acc[R][V];                                                                                    \
    for (int k = 0; k < R; k++)                                                                       \
      for (int v = 0; v < V; v++) acc[k][v] = (v16){0};                                               \
    int ox = (int)(p0 % g->ow), oy = (int)(p0 / g->ow % g->oh), b = (int)(p0 / ((long)g->ow * g->oh)); \
    for (long p = p0; p < p1; p++) {                                                                  \
      const int iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;                                   \
      v16 d[V];                                                                                       \
      for (int v = 0; v < V; v++) d[v] = load16(j->dy + p * o + o0 + 16 * v);                         \
      if (iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) { \
        const float *base = j->x + (((long)b * g->h + iy0) * g->w + ix0) * g->c;                      \
        for (int k = 0; k < R; k++) {                                                                 \
          const float a = base[j->off[r0 + k]];                                                       \
          for (int v = 0; v < V; v++) acc[k][v] += a * d[v];                                          \
        }                                                                                             \
      } else                                                                                          \
        for (int k = 0; k < R; k++) {                                                                 \
          const float a = edge_value(j, r0 + k, b, iy0, ix0);                                         \
          for (int v = 0; v < V; v++) acc[k][v] += a * d[v];                                          \
        }                                                                                             \
      if (++ox == g->ow) {                                                                            \
        ox = 0;                                                                                       \
        if (++oy == g->oh) oy = 0, b++;                                                               \
      }                                                                                               \
    }                                                                                                 \
    for (int k = 0; k < R && r0 + k < j->rows; k++)                                                   \
      for (int v = 0; v < V; v++) store16(part + (long)(r0 + k) * o + o0 + 16 * v, acc[k][v]);        \
  }
/* 12 rows x 32 channels is 24 of AVX-512's 32 registers; 8 x 16 elsewhere fits AVX2's 16 as 2 halves each */
#ifdef __AVX512F__
#define SMALL_TILE_ROWS 12
#else
#define SMALL_TILE_ROWS 8
#endif
SMALL_GRADIENT_TILE(small_gradient_2, SMALL_TILE_ROWS, 2)
SMALL_GRADIENT_TILE(small_gradient_1, SMALL_TILE_ROWS, 1)

static void small_gradient_chunk(void *arg, long task) {
  const small_grad_job *j = arg;
  const int o = j->g->o;
  const long p0 = task * j->chunk, p1 = p0 + j->chunk < j->pixels ? p0 + j->chunk : j->pixels;
  float *part = j->partials + task * (long)j->rows * o;
  for (int r0 = 0; r0 < j->rows; r0 += SMALL_TILE_ROWS) {
    int o0 = 0;
    for (; o0 + 32 <= o; o0 += 32) small_gradient_2(j, p0, p1, r0, o0, part);
    if (o0 + 16 <= o) small_gradient_1(j, p0, p1, r0, o0, part), o0 += 16;
    for (; o0 < o; o0++) /* a few output channels past the vectors */
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

static int filter_gradient_small(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  small_grad_job *j = malloc(sizeof *j);
  if (!j) return 0;
  *j = (small_grad_job){.x = x, .dy = dy, .g = g, .rows = g->kh * g->kw * g->c, .pixels = (long)g->n * g->oh * g->ow};
  for (int r = 0; r < j->rows; r++) {
    const int tap = r / g->c, i = tap / g->kw, k = tap % g->kw;
    j->tap_y[r] = i * g->dh, j->tap_x[r] = k * g->dw, j->channel[r] = r % g->c;
    j->off[r] = ((long)i * g->dh * g->w + (long)k * g->dw) * g->c + r % g->c;
  }
  /* at most 64 chunks of at least 2,048 pixels: a rule of the geometry, not of the thread count */
  j->chunk = (j->pixels + 63) / 64 > 2048 ? (j->pixels + 63) / 64 : 2048;
  const long chunks = (j->pixels + j->chunk - 1) / j->chunk;
  j->partials = scratch(1, (size_t)chunks * j->rows * g->o);
  if (!j->partials) return free(j), 0;
  parallel_for(chunks, small_gradient_chunk, j);
  const long size = (long)j->rows * g->o;
  memcpy(dw, j->partials, sizeof(float) * size);
  for (long t = 1; t < chunks; t++)
    for (long i = 0; i < size; i++) dw[i] += j->partials[t * size + i];
  free(j);
  return 1;
}

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

static int filter_gradient(const float *x, const float *dy, float *dw, const conv_geometry *g) {
  if (winograd_applies(g)) return filter_gradient_winograd(x, dy, dw, g);
  return g->kh * g->kw * g->c <= SMALL_ROWS ? filter_gradient_small(x, dy, dw, g) : filter_gradient_direct(x, dy, dw, g);
}

static int conv_forward(const float *x, const float *w, float *y, const conv_geometry *g) {
  if (winograd_applies(g)) return conv_winograd(x, w, y, g);
  const int rows = g->kh * g->kw * g->c;
  int np = PANEL_FLOATS * 2 / rows / RB * RB;
  np = np < 4 * RB ? 4 * RB : np > NP_MAX ? NP_MAX : np;
  forward_job f = {.x = x, .w = w, .y = y, .g = g, .rows = rows, .np = np, .pixels = (long)g->n * g->oh * g->ow};
  atomic_init(&f.failed, 0);
  parallel_for((f.pixels + np - 1) / np, forward_panel, &f);
  return !atomic_load(&f.failed);
}

/*
 * Input gradient of a stride-1 convolution: the forward convolution of dy with the filter flipped
 * in space and with its channel axes swapped, pads d * (k - 1) - pad (negative pads crop).
 */
static int input_gradient_unstrided(const float *dy, const float *w, float *dx, const conv_geometry *g) {
  const int kh = g->kh, kw = g->kw, c = g->c, o = g->o;
  float *wf = scratch(1, (size_t)kh * kw * c * o);
  if (!wf) return 0;
  for (int i = 0; i < kh; i++)
    for (int j = 0; j < kw; j++)
      for (int ci = 0; ci < c; ci++)
        for (int oc = 0; oc < o; oc++)
          wf[(((long)(kh - 1 - i) * kw + (kw - 1 - j)) * o + oc) * c + ci] = w[(((long)i * kw + j) * c + ci) * o + oc];
  const conv_geometry t = {
      .n = g->n, .h = g->oh, .w = g->ow, .c = o, .oh = g->h, .ow = g->w, .o = c, .kh = kh, .kw = kw, .sh = 1, .sw = 1,
      .dh = g->dh, .dw = g->dw, .pt = g->dh * (kh - 1) - g->pt, .pl = g->dw * (kw - 1) - g->pl,
  };
  return conv_forward(dy, wf, dx, &t);
}

/*
 * Input gradient of a strided convolution: column gradients dcols = dy * w^T a panel of output
 * pixels at a time (dy's rows are the panel as they are), each scattered back onto the window it
 * came from (col2im), so no zeros are inserted and no work is wasted on them. Threads take whole
 * images (windows of one image overlap; of two, never), each image's pixels in order.
 */
typedef struct {
  const float *dy, *wt;
  float *dx;
  const conv_geometry *g;
  int rows, np;
  atomic_int failed;
} strided_job;

static void input_gradient_image(void *arg, long b) {
  strided_job *f = arg;
  const conv_geometry *g = f->g;
  const int rows = f->rows, o = g->o, c = g->c, np = f->np;
  /* RB spare rows: a last partial tile writes them (they are not scattered) */
  float *dcols = scratch(0, (size_t)(np + RB) * rows);
  float *dy_tail = scratch(2, (size_t)RB * o);
  if (!dcols || !dy_tail) {
    atomic_store(&f->failed, 1);
    return;
  }
  const long image_pixels = (long)g->oh * g->ow, first = b * image_pixels;
  float *dx = f->dx + b * (long)g->h * g->w * c;
  memset(dx, 0, sizeof(float) * (size_t)g->h * g->w * c);
  for (long p0 = first; p0 < first + image_pixels; p0 += np) {
    const int count = (int)(first + image_pixels - p0 < np ? first + image_pixels - p0 : np);
    for (int pb = 0; pb < count; pb += RB) {
      const int k_count = count - pb < RB ? count - pb : RB;
      const float *tile = f->dy + (p0 + pb) * o;
      if (k_count < RB) { /* the tiles read RB rows of dy: copy a short last one into zeros */
        memset(dy_tail, 0, sizeof(float) * (size_t)RB * o);
        memcpy(dy_tail, tile, sizeof(float) * (size_t)k_count * o);
        tile = dy_tail;
      }
      float *out = dcols + (long)pb * rows;
      for (int r0 = 0; r0 < o; r0 += KC) {
        const int r1 = r0 + KC < o ? r0 + KC : o;
        int q0 = 0;
        for (; q0 + 32 <= rows; q0 += 32) forward_2(tile, o, r0, r1, k_count, f->wt, rows, q0, out);
        if (q0 + 16 <= rows) forward_1(tile, o, r0, r1, k_count, f->wt, rows, q0, out), q0 += 16;
        if (q0 < rows) forward_scalar(tile, o, r0, r1, k_count, f->wt, rows, q0, out);
      }
    }
    /* col2im: add each pixel's column gradient onto its window */
    for (int p = 0; p < count; p++) {
      const long pix = p0 + p - first;
      const int ox = (int)(pix % g->ow), oy = (int)(pix / g->ow);
      const float *col = dcols + (long)p * rows;
      for (int i = 0; i < g->kh; i++) {
        const int iy = oy * g->sh - g->pt + i * g->dh;
        if (iy < 0 || iy >= g->h) continue;
        for (int j = 0; j < g->kw; j++) {
          const int ix = ox * g->sw - g->pl + j * g->dw;
          if (ix < 0 || ix >= g->w) continue;
          float *dst = dx + ((long)iy * g->w + ix) * c;
          const float *src = col + (i * g->kw + j) * c;
          for (int ci = 0; ci < c; ci++) dst[ci] += src[ci];
        }
      }
    }
  }
}

static int input_gradient_strided(const float *dy, const float *w, float *dx, const conv_geometry *g) {
  const int rows = g->kh * g->kw * g->c, o = g->o;
  float *wt = scratch(1, (size_t)rows * o);
  if (!wt) return 0;
  for (int r = 0; r < rows; r++)
    for (int oc = 0; oc < o; oc++) wt[(long)oc * rows + r] = w[(long)r * o + oc];
  int np = PANEL_FLOATS * 2 / rows / RB * RB;
  np = np < 4 * RB ? 4 * RB : np > NP_MAX ? NP_MAX : np;
  strided_job f = {.dy = dy, .wt = wt, .dx = dx, .g = g, .rows = rows, .np = np};
  atomic_init(&f.failed, 0);
  parallel_for(g->n, input_gradient_image, &f);
  return !atomic_load(&f.failed);
}

static int input_gradient(const float *dy, const float *w, float *dx, const conv_geometry *g) {
  return g->sh == 1 && g->sw == 1 ? input_gradient_unstrided(dy, w, dx, g) : input_gradient_strided(dy, w, dx, g);
}

/*
 * BatchNorm over the channel (last) axis of x [rows, c], train mode. Sums run in float vectors
 * across channels over blocks of rows and are carried in double between blocks, so 65,536-row
 * batches lose no precision to float accumulation.
 */
#define BN_BLOCK 128
/* Blocks per task when summing, rows about 64K floats per task in the elementwise passes. */
#define BN_BLOCKS_PER_TASK 8
#define ELEMENTWISE_GRAIN 65536

/*
 * One BatchNorm call's arrays. Sums: f(row, ch) = a (mode 0) or (a - mean)^2 (1) into parts, or
 * (mode 2, the backward's two sums in one pass) g into parts and g * (b - mean) into parts2, where
 * g = a, or with a mask (a ReLU fused after the forward: its output) g = mask > 0 ? a : 0. Each
 * block's float sums are added in block order in double afterwards (so threads change nothing).
 * Elementwise: y = a * k + shift (forward, then max(y, 0) with relu) or dx = k * g - m * (b - mean)
 * - shift (backward, a = dy, b = x).
 */
typedef struct {
  const float *a, *b, *mask, *mean, *k, *m, *shift;
  float *out, *parts, *parts2;
  int mode, c, relu;
  long rows, blocks, rows_per_task;
} bn_job;

static void bn_block_sums(void *arg, long task) {
  const bn_job *j = arg;
  const int c = j->c;
  for (long blk = task * BN_BLOCKS_PER_TASK; blk < (task + 1) * BN_BLOCKS_PER_TASK && blk < j->blocks; blk++) {
    float *part = j->parts + blk * c, *part2 = j->parts2 + blk * c;
    const long r0 = blk * BN_BLOCK, r1 = r0 + BN_BLOCK < j->rows ? r0 + BN_BLOCK : j->rows;
    for (int ch = 0; ch < c; ch++) part[ch] = part2[ch] = 0;
    for (long r = r0; r < r1; r++) {
      const float *ar = j->a + r * c, *br = j->mode == 2 ? j->b + r * c : NULL, *mr = j->mask ? j->mask + r * c : NULL;
      if (j->mode == 0)
        for (int ch = 0; ch < c; ch++) part[ch] += ar[ch];
      else if (j->mode == 1)
        for (int ch = 0; ch < c; ch++) {
          const float d = ar[ch] - j->mean[ch];
          part[ch] += d * d;
        }
      else if (!j->mask)
        for (int ch = 0; ch < c; ch++) {
          part[ch] += ar[ch];
          part2[ch] += ar[ch] * (br[ch] - j->mean[ch]);
        }
      else
        for (int ch = 0; ch < c; ch++) {
          const float g = mr[ch] > 0 ? ar[ch] : 0.0f; /* through the fused ReLU, as reluBackward */
          part[ch] += g;
          part2[ch] += g * (br[ch] - j->mean[ch]);
        }
    }
  }
}

/* sums[ch] (and for mode 2 sums2[ch]) over all rows for j's mode. */
static void channel_sums(bn_job *j, int mode, double *sums, double *sums2) {
  j->mode = mode;
  parallel_for((j->blocks + BN_BLOCKS_PER_TASK - 1) / BN_BLOCKS_PER_TASK, bn_block_sums, j);
  for (int ch = 0; ch < j->c; ch++) sums[ch] = 0;
  for (long blk = 0; blk < j->blocks; blk++)
    for (int ch = 0; ch < j->c; ch++) sums[ch] += j->parts[blk * j->c + ch];
  if (mode != 2) return;
  for (int ch = 0; ch < j->c; ch++) sums2[ch] = 0;
  for (long blk = 0; blk < j->blocks; blk++)
    for (int ch = 0; ch < j->c; ch++) sums2[ch] += j->parts2[blk * j->c + ch];
}

static void bn_normalize_rows(void *arg, long task) {
  const bn_job *j = arg;
  const int c = j->c;
  const long r1 = (task + 1) * j->rows_per_task < j->rows ? (task + 1) * j->rows_per_task : j->rows;
  for (long r = task * j->rows_per_task; r < r1; r++) {
    const float *xr = j->a + r * c;
    float *yr = j->out + r * c;
    if (!j->relu)
      for (int ch = 0; ch < c; ch++) yr[ch] = xr[ch] * j->k[ch] + j->shift[ch];
    else
      for (int ch = 0; ch < c; ch++) {
        const float v = xr[ch] * j->k[ch] + j->shift[ch];
        yr[ch] = v < 0 ? 0.0f : v; /* NaN stays NaN, as tfjs's Relu */
      }
  }
}

static void bn_gradient_rows(void *arg, long task) {
  const bn_job *j = arg;
  const int c = j->c;
  const long r1 = (task + 1) * j->rows_per_task < j->rows ? (task + 1) * j->rows_per_task : j->rows;
  for (long r = task * j->rows_per_task; r < r1; r++) {
    const float *dyr = j->a + r * c, *xr = j->b + r * c;
    float *dxr = j->out + r * c;
    if (!j->mask)
      for (int ch = 0; ch < c; ch++) dxr[ch] = j->k[ch] * dyr[ch] - j->m[ch] * (xr[ch] - j->mean[ch]) - j->shift[ch];
    else {
      const float *mr = j->mask + r * c;
      for (int ch = 0; ch < c; ch++) {
        const float g = mr[ch] > 0 ? dyr[ch] : 0.0f;
        dxr[ch] = j->k[ch] * g - j->m[ch] * (xr[ch] - j->mean[ch]) - j->shift[ch];
      }
    }
  }
}

/* A job over x [rows, c] with room for two sets of block sums and 3 per-channel vectors; NULL without memory. */
static float *bn_job_init(bn_job *j, long rows, int c) {
  const long blocks = (rows + BN_BLOCK - 1) / BN_BLOCK;
  float *mem = malloc(sizeof(float) * (2 * (size_t)blocks * c + 3 * (size_t)c));
  *j = (bn_job){.parts = mem, .parts2 = mem ? mem + blocks * c : NULL, .c = c, .rows = rows, .blocks = blocks};
  j->rows_per_task = ELEMENTWISE_GRAIN / c > 0 ? ELEMENTWISE_GRAIN / c : 1;
  return mem;
}

/* y = (x - mean) * (gamma * invStd) + beta, then max(y, 0) with relu; mean and biased variance returned for the running update. */
static int batch_norm_forward(const float *x, const float *gamma, const float *beta, float epsilon, long rows, int c, int relu, float *y,
                              float *mean, float *variance, float *inv_std) {
  bn_job j;
  double *sums = malloc(sizeof(double) * c);
  float *mem = bn_job_init(&j, rows, c);
  if (!sums || !mem) return free(sums), free(mem), 0;
  float *scale = mem + 2 * j.blocks * c, *shift = scale + c;
  j.a = x;
  channel_sums(&j, 0, sums, NULL);
  for (int ch = 0; ch < c; ch++) mean[ch] = (float)(sums[ch] / rows);
  j.mean = mean;
  channel_sums(&j, 1, sums, NULL);
  for (int ch = 0; ch < c; ch++) {
    variance[ch] = (float)(sums[ch] / rows);
    inv_std[ch] = (float)(1.0 / sqrt((double)variance[ch] + epsilon));
    scale[ch] = gamma[ch] * inv_std[ch];
    shift[ch] = beta[ch] - mean[ch] * scale[ch];
  }
  j.k = scale, j.shift = shift, j.out = y, j.relu = relu;
  parallel_for(task_count(rows, j.rows_per_task), bn_normalize_rows, &j);
  free(sums), free(mem);
  return 1;
}

/*
 * dbeta = sum g, dgamma = sum g * xhat, dx = gamma * invStd * (g - (dbeta + xhat * dgamma) / rows),
 * with xhat = (x - mean) * invStd recomputed from the saved input and g the gradient reaching
 * BatchNorm: dy, or with `mask` (the output of a forward with relu) dy where mask > 0, else 0.
 */
static int batch_norm_backward(const float *dy, const float *mask, const float *x, const float *gamma, const float *mean, const float *inv_std,
                               long rows, int c, float *dx, float *dgamma, float *dbeta) {
  bn_job j;
  double *sums = malloc(sizeof(double) * 2 * c);
  float *mem = bn_job_init(&j, rows, c);
  if (!sums || !mem) return free(sums), free(mem), 0;
  float *k = mem + 2 * j.blocks * c, *a = k + c, *b = a + c;
  j.a = dy, j.mask = mask, j.b = x, j.mean = mean;
  channel_sums(&j, 2, sums, sums + c);
  for (int ch = 0; ch < c; ch++) {
    dbeta[ch] = (float)sums[ch];
    dgamma[ch] = (float)(sums[c + ch] * inv_std[ch]);
    /* dx = k * g - a * (x - mean) - b, k = gamma * invStd, a = k * invStd * dgamma / rows, b = k * dbeta / rows */
    k[ch] = gamma[ch] * inv_std[ch];
    a[ch] = (float)((double)k[ch] * inv_std[ch] * dgamma[ch] / rows);
    b[ch] = (float)((double)k[ch] * dbeta[ch] / rows);
  }
  j.k = k, j.m = a, j.shift = b, j.out = dx;
  parallel_for(task_count(rows, j.rows_per_task), bn_gradient_rows, &j);
  free(sums), free(mem);
  return 1;
}

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

/*
 * ReLU forward and same-shape addition (residual adds, gradient accumulation): one pass each, split
 * over the pool (the wasm kernels they replace run on one thread). x < 0 ? 0 : x keeps a NaN a NaN,
 * so a diverging run still shows it in the loss.
 */
typedef struct {
  const float *a, *b;
  float *out;
  long n;
} elementwise_job;

/* ReLU's gradient from its output, a = dy, b = y: dx = y > 0 ? dy : 0 (one pass instead of a step and a product). */
static void relu_backward_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict dy = j->a, *restrict y = j->b;
  float *restrict dx = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  /* dy read unconditionally: a select the compiler vectorises, not a branch per element (50% mispredicted) */
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) {
    const float d = dy[i];
    dx[i] = y[i] > 0 ? d : 0;
  }
}

static void relu_forward_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict x = j->a;
  float *restrict y = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) y[i] = x[i] < 0 ? 0 : x[i];
}

static void add_chunk(void *arg, long task) {
  const elementwise_job *j = arg;
  const float *restrict a = j->a, *restrict b = j->b;
  float *restrict out = j->out;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) out[i] = a[i] + b[i];
}

static void elementwise(task_fn fn, const float *a, const float *b, float *out, long n) {
  elementwise_job j = {.a = a, .b = b, .out = out, .n = n};
  parallel_for(task_count(n, ELEMENTWISE_GRAIN), fn, &j);
}

/*
 * One SGD step (src/train/sgd.ts) in one pass, with the same float32 operations in the same order
 * as the tfjs-op version, each rounded on its own (no fused multiply-add), so both give the same bits:
 *   g = grad * scale; g = g + p * wd; buf = buf * m + g; u = nesterov ? g + buf * m : buf; p = p - u * lr.
 */
#if defined(__clang__)
#define NO_FMA
#else
#define NO_FMA __attribute__((optimize("fp-contract=off")))
#endif
typedef struct {
  const float *p, *grad, *buf;
  float *p_out, *buf_out;
  long n;
  float lr, momentum, wd, scale;
  int nesterov;
} sgd_job;

NO_FMA static void sgd_chunk(void *arg, long task) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  const sgd_job *j = arg;
  /* locals: stores through p_out could otherwise alias the job's floats and force a reload per element */
  const float *restrict p = j->p, *restrict grad = j->grad, *restrict buf = j->buf;
  float *restrict p_out = j->p_out, *restrict buf_out = j->buf_out;
  const float lr = j->lr, momentum = j->momentum, wd = j->wd, scale = j->scale;
  const int nesterov = j->nesterov;
  const long i1 = (task + 1) * ELEMENTWISE_GRAIN < j->n ? (task + 1) * ELEMENTWISE_GRAIN : j->n;
  for (long i = task * ELEMENTWISE_GRAIN; i < i1; i++) {
    float g = scale == 1.0f ? grad[i] : grad[i] * scale;
    if (wd > 0) g = g + p[i] * wd;
    float u = g;
    if (buf) {
      const float b = buf[i] * momentum + g;
      buf_out[i] = b;
      u = nesterov ? g + b * momentum : b;
    }
    p_out[i] = p[i] - u * lr;
  }
}

static void sgd_step(const float *p, const float *grad, const float *buf, float *p_out, float *buf_out, long n, float lr, float momentum, float wd,
                     int nesterov, float scale) {
  sgd_job j = {.p = p, .grad = grad, .buf = buf, .p_out = p_out, .buf_out = buf_out, .n = n, .lr = lr, .momentum = momentum, .wd = wd, .scale = scale, .nesterov = nesterov};
  parallel_for(task_count(n, ELEMENTWISE_GRAIN), sgd_chunk, &j);
}

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
static int conv_args(napi_env env, napi_callback_info info, const char *name, float **a, float **b, float **out, size_t lengths[3], conv_geometry *g) {
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
  if (c == 0 || len[0] % c || len[1] != len[0] || len[3] != c || len[4] != c || len[5] != len[0] || len[6] != c || len[7] != c ||
      (masked && len[8] != len[0]))
    return fail(env, "batchNormBackward: dy, x, dx and the mask must be [rows, C], the others [C]");
  if (!batch_norm_backward(d[0], d[8], d[1], d[2], d[3], d[4], (long)(len[0] / c), (int)c, d[5], d[6], d[7]))
    return fail(env, "batchNormBackward: out of memory");
  return NULL;
}

/* maxPoolForward(x, y, indices: Int32Array, geometry) */
static napi_value js_max_pool_forward(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *y;
  int32_t *indices;
  size_t nx, ny, ni;
  conv_geometry g;
  if (argc != 4 || !float_array(env, argv[0], &x, &nx) || !float_array(env, argv[1], &y, &ny) || !int32_array(env, argv[2], &indices, &ni))
    return fail(env, "maxPoolForward: expected (Float32Array, Float32Array, Int32Array, Int32Array(15))");
  if (!geometry_arg(env, argv[3], "maxPoolForward", &g)) return NULL;
  if (nx != (size_t)g.n * g.h * g.w * g.c || ny != (size_t)g.n * g.oh * g.ow * g.c || ni != ny || nx > INT32_MAX)
    return fail(env, "maxPoolForward: array lengths do not match the geometry");
  max_pool_forward(x, y, indices, &g);
  return NULL;
}

/* maxPoolBackward(dy, indices, dx): dx = 0, then dx[indices[i]] += dy[i] */
static napi_value js_max_pool_backward(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *dy, *dx;
  int32_t *indices;
  size_t ndy, ni, ndx;
  if (argc != 3 || !float_array(env, argv[0], &dy, &ndy) || !int32_array(env, argv[1], &indices, &ni) || !float_array(env, argv[2], &dx, &ndx))
    return fail(env, "maxPoolBackward: expected (Float32Array, Int32Array, Float32Array)");
  if (ni != ndy) return fail(env, "maxPoolBackward: dy and indices differ in length");
  for (size_t i = 0; i < ni; i++)
    if (indices[i] >= (int64_t)ndx) return fail(env, "maxPoolBackward: an index lies outside dx");
  max_pool_backward(dy, indices, (long)ndy, dx, (long)ndx);
  return NULL;
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
static napi_value js_relu_backward(napi_env env, napi_callback_info info) { return run_elementwise(env, info, "reluBackward", 2, relu_backward_chunk); }

/* reluForward(x, y) */
static napi_value js_relu_forward(napi_env env, napi_callback_info info) { return run_elementwise(env, info, "reluForward", 1, relu_forward_chunk); }

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
    if (napi_get_value_double(env, argv[5 + i], &h[i]) != napi_ok) return fail(env, "sgdStep: lr, momentum and weightDecay must be numbers");
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

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "filterGradient", NAPI_AUTO_LENGTH, js_filter_gradient, NULL, &fn);
  napi_set_named_property(env, exports, "filterGradient", fn);
  napi_create_function(env, "conv2d", NAPI_AUTO_LENGTH, js_conv2d, NULL, &fn);
  napi_set_named_property(env, exports, "conv2d", fn);
  napi_create_function(env, "inputGradient", NAPI_AUTO_LENGTH, js_input_gradient, NULL, &fn);
  napi_set_named_property(env, exports, "inputGradient", fn);
  napi_create_function(env, "batchNormForward", NAPI_AUTO_LENGTH, js_batch_norm_forward, NULL, &fn);
  napi_set_named_property(env, exports, "batchNormForward", fn);
  napi_create_function(env, "batchNormBackward", NAPI_AUTO_LENGTH, js_batch_norm_backward, NULL, &fn);
  napi_set_named_property(env, exports, "batchNormBackward", fn);
  napi_create_function(env, "maxPoolForward", NAPI_AUTO_LENGTH, js_max_pool_forward, NULL, &fn);
  napi_set_named_property(env, exports, "maxPoolForward", fn);
  napi_create_function(env, "maxPoolBackward", NAPI_AUTO_LENGTH, js_max_pool_backward, NULL, &fn);
  napi_set_named_property(env, exports, "maxPoolBackward", fn);
  napi_create_function(env, "reluBackward", NAPI_AUTO_LENGTH, js_relu_backward, NULL, &fn);
  napi_set_named_property(env, exports, "reluBackward", fn);
  napi_create_function(env, "sgdStep", NAPI_AUTO_LENGTH, js_sgd_step, NULL, &fn);
  napi_set_named_property(env, exports, "sgdStep", fn);
  napi_create_function(env, "reluForward", NAPI_AUTO_LENGTH, js_relu_forward, NULL, &fn);
  napi_set_named_property(env, exports, "reluForward", fn);
  napi_create_function(env, "add", NAPI_AUTO_LENGTH, js_add, NULL, &fn);
  napi_set_named_property(env, exports, "add", fn);
  napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, js_set_threads, NULL, &fn);
  napi_set_named_property(env, exports, "setThreads", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
