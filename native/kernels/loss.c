/* latephase native kernels: softmax cross-entropy with its gradient. Part of the one translation unit native/kernels.c includes. */
/*
 * Mean softmax cross-entropy of logits [rows, c] against targets [rows, c] (one-hot or any
 * non-negative weights), and its gradient with respect to the logits, in one pass per row:
 *   z = logits - max, lse = log(sum exp z), loss = mean over rows of (lse * sum t - sum t * z),
 *   dlogits = (softmax(z) * sum t - t) / rows.
 * The tfjs tape otherwise records about forty small kernels for this (log-softmax, product, sum,
 * mean, negation and their gradients), each a dispatch that costs more than the arithmetic. Sums
 * run in double, in index order (no vector reassociation: the bits do not depend on the ISA).
 */
static double softmax_cross_entropy(const float *logits, const float *targets, long rows, int c, float *dlogits) {
  double total = 0;
  const double scale = 1.0 / (double)rows;
  for (long r = 0; r < rows; r++) {
    const float *z = logits + r * c, *t = targets + r * c;
    float *d = dlogits + r * c;
    float max = z[0];
    for (int k = 1; k < c; k++) max = z[k] > max ? z[k] : max;
    double sum_exp = 0, sum_t = 0, sum_tz = 0;
    for (int k = 0; k < c; k++) {
      sum_exp += exp((double)z[k] - (double)max);
      sum_t += t[k];
      sum_tz += (double)t[k] * ((double)z[k] - (double)max);
    }
    total += log(sum_exp) * sum_t - sum_tz;
    for (int k = 0; k < c; k++) d[k] = (float)((exp((double)z[k] - (double)max) / sum_exp * sum_t - t[k]) * scale);
  }
  return total * scale;
}
