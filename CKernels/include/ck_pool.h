// A persistent thread pool. Kernels split their OUTPUT across its threads (e.g. ranges of
// matrix rows), so results are bit-identical whatever the number of threads. Idle workers spin
// briefly (the next kernel usually follows within microseconds) and then sleep on a condition
// variable, so an idle pool costs no CPU.
#ifndef CK_POOL_H
#define CK_POOL_H

typedef struct ck_pool ck_pool;

// n_threads <= 0: one thread per CPU (ck_cpu_count()). The calling thread counts as one of
// them: a pool of n runs n-1 workers. Returns NULL when threads cannot be created.
ck_pool *ck_pool_create(int n_threads);
void ck_pool_destroy(ck_pool *pool);

// Number of threads (1 for a NULL pool).
int ck_pool_size(const ck_pool *pool);

// Runs fn(ctx, ith, nth) for ith = 0..nth-1 in parallel (ith 0 on the calling thread) and
// returns when all have finished. pool may be NULL (then fn(ctx, 0, 1)). One caller at a time:
// a pool is not re-entrant and must not be shared by threads that run kernels concurrently.
void ck_pool_run(ck_pool *pool, void (*fn)(void *ctx, int ith, int nth), void *ctx);

#endif
