/* latephase native kernels: the convolution drivers: which formulation runs for a geometry. Part of the one translation unit native/kernels.c includes. */
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

/* dst [cols, rows] = src [rows, cols]^T, in 16 x 16 blocks (element by element, the stores' stride was 10x slower at 256 x 256). */
static void transpose(const float *src, int rows, int cols, float *dst) {
  for (int r0 = 0; r0 < rows; r0 += 16)
    for (int c0 = 0; c0 < cols; c0 += 16) {
      const int r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
      for (int r = r0; r < r1; r++)
        for (int col = c0; col < c1; col++) dst[(long)col * rows + r] = src[(long)r * cols + col];
    }
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
    for (int j = 0; j < kw; j++) transpose(w + ((long)i * kw + j) * c * o, c, o, wf + ((long)(kh - 1 - i) * kw + (kw - 1 - j)) * o * c);
  const conv_geometry t = {
      .n = g->n,
      .h = g->oh,
      .w = g->ow,
      .c = o,
      .oh = g->h,
      .ow = g->w,
      .o = c,
      .kh = kh,
      .kw = kw,
      .sh = 1,
      .sw = 1,
      .dh = g->dh,
      .dw = g->dw,
      .pt = g->dh * (kh - 1) - g->pt,
      .pl = g->dw * (kw - 1) - g->pl,
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
  transpose(w, rows, o, wt);
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
