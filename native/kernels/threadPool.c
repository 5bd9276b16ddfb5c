/* latephase native kernels: the thread pool: tasks split over persistent workers, the caller included. Part of the one translation unit native/kernels.c includes. */
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
/* read by every kernel to size its tasks, written by pool_resize (another Node thread may call it): atomic */
static atomic_int pool_workers;
static int pool_stop;
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
