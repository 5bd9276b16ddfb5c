/* latephase native kernels: the thread pool: tasks split over persistent workers, the caller included. Part of the one translation unit native/kernels.c includes. */
/*
 * Worker threads for the kernels (setThreads; none by default: the calling thread alone). Each
 * kernel splits its work into tasks whose results do not depend on which thread runs them or in
 * what order: disjoint outputs, or partial sums combined afterwards in a fixed order. So every
 * thread count gives the same bits. One job at a time: a caller that finds the pool busy (another
 * Node thread) runs its tasks alone.
 */
typedef void (*task_fn)(void *ctx, long task);

#define MAX_THREADS 64

/* A thread's share of a job's tasks, [next, end), on a cache line of its own (its owner takes from it, others only once it is theirs to steal). */
typedef struct {
  _Alignas(64) atomic_long next;
  long end;
} task_range;

typedef struct {
  task_fn fn;
  void *ctx;
  long tasks, generation;
  int threads;
  task_range range[MAX_THREADS];
  /* changed under pool_lock; atomic so that the caller's spin may read them without it */
  atomic_long done;
  atomic_int inside; /* workers that joined the job and have not left it */
} pool_job;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER; /* held while a job runs or the pool is resized */
static pool_job *pool_current;
/* changed under pool_lock; atomic so that an idle worker's spin may read them without it */
static atomic_long pool_generation;
static atomic_int pool_stop;
/* read by every kernel to size its tasks, written by pool_resize (another Node thread may call it): atomic */
static atomic_int pool_workers;
static pthread_t pool_ids[MAX_THREADS];

/*
 * How long a thread spins before it sleeps on a condition variable: a training step runs dozens of
 * kernels a few microseconds of JS apart, and a futex sleep and wake-up costs each kernel 5-10 us on
 * this VM before the worker even starts (as OpenMP's threads, PyTorch's, spin by default).
 */
#define POOL_SPIN_NS 200000L

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Spins until `done` holds or POOL_SPIN_NS have passed (the caller then checks again under the lock). */
#define SPIN_UNTIL(done)                                                                                                                   \
  do {                                                                                                                                     \
    const long spin_end_ = now_ns() + POOL_SPIN_NS;                                                                                        \
    for (int spins_ = 1; !(done); spins_++)                                                                                                \
      if (spins_ % 64 == 0 && now_ns() > spin_end_)                                                                                        \
        break;                                                                                                                             \
      else                                                                                                                                 \
        cpu_relax();                                                                                                                       \
  } while (0)

/*
 * Thread `self` runs its own contiguous share of the tasks first, then takes what is left of the
 * others'. Contiguous shares put the same part of the batch on the same core kernel after kernel
 * (the first images' pixels, pool rows, BatchNorm rows), so the data one kernel writes is in that
 * core's cache when the next reads it; the two cores of this VM are ~250 ns apart, and a shared
 * counter that dealt tasks alternately sent every other row across. Stealing keeps the balance
 * when a thread starts late or is preempted.
 */
static long run_tasks(pool_job *j, int self) {
  long t, mine = 0;
  for (int k = 0; k < j->threads; k++) {
    task_range *r = &j->range[(self + k) % j->threads];
    while ((t = atomic_fetch_add(&r->next, 1)) < r->end) j->fn(j->ctx, t), mine++;
  }
  return mine;
}

static void *pool_worker(void *arg) {
  const int self = (int)(intptr_t)arg; /* 1.. (the caller is 0) */
  long seen = 0;
  for (;;) {
    SPIN_UNTIL(atomic_load(&pool_generation) != seen || atomic_load(&pool_stop));
    pthread_mutex_lock(&pool_lock);
    if (!pool_stop && !pool_current && pool_generation != seen) {
      /* the caller finished that job alone: spin again for the next rather than sleep */
      seen = pool_generation;
      pthread_mutex_unlock(&pool_lock);
      continue;
    }
    while (!pool_stop && (!pool_current || pool_current->generation == seen)) pthread_cond_wait(&pool_wake, &pool_lock);
    if (pool_stop) {
      pthread_mutex_unlock(&pool_lock);
      break;
    }
    pool_job *j = pool_current;
    seen = j->generation;
    j->inside++;
    pthread_mutex_unlock(&pool_lock);
    const long mine = self < j->threads ? run_tasks(j, self) : 0;
    pthread_mutex_lock(&pool_lock);
    j->done += mine;
    if (--j->inside == 0 && j->done == j->tasks) pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_lock);
  }
  free_scratch();
  return NULL;
}

/* fn(ctx, t) for t in [0, tasks), on the calling thread and the pool's workers; returns when all ran. */
static void parallel_for(long tasks, task_fn fn, void *ctx) {
  pool_job j = {.fn = fn, .ctx = ctx, .tasks = tasks, .threads = 1};
  atomic_init(&j.done, 0);
  atomic_init(&j.inside, 0);
  atomic_init(&j.range[0].next, 0);
  j.range[0].end = tasks;
  if (tasks <= 1 || pool_workers == 0 || pthread_mutex_trylock(&pool_owner) != 0) {
    run_tasks(&j, 0);
    return;
  }
  j.threads = pool_workers + 1;
  for (int i = 0; i < j.threads; i++) atomic_init(&j.range[i].next, tasks * i / j.threads), j.range[i].end = tasks * (i + 1) / j.threads;
  pthread_mutex_lock(&pool_lock);
  j.generation = ++pool_generation;
  pool_current = &j;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  const long mine = run_tasks(&j, 0);
  pthread_mutex_lock(&pool_lock);
  j.done += mine;
  pthread_mutex_unlock(&pool_lock);
  /* the check under the lock below decides; the spin only spares the sleep */
  SPIN_UNTIL(atomic_load(&j.done) == j.tasks && atomic_load(&j.inside) == 0);
  pthread_mutex_lock(&pool_lock);
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
  while (pool_workers < threads - 1 &&
         pthread_create(&pool_ids[pool_workers], NULL, pool_worker, (void *)(intptr_t)(pool_workers + 1)) == 0)
    pool_workers++;
  pthread_mutex_unlock(&pool_owner);
  return pool_workers + 1;
}

/*
 * Items per task for `items` cheap, independent items (output rows, images): about four tasks per
 * thread, a little balance on a busy machine without a shared counter's cache line crossing cores
 * for every row.
 */
static long items_per_task(long items) {
  const long tasks = 4L * (pool_workers + 1);
  return items <= tasks ? 1 : (items + tasks - 1) / tasks;
}

/* Tasks of about `grain` items each over `items` (at least one). */
static long task_count(long items, long grain) { return items <= grain ? 1 : (items + grain - 1) / grain; }
