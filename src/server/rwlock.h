/* The registries' read-write locks prefer writers: a REST change must not wait behind a stream
 * of KV readers (glibc's default lets readers starve a writer). */
#ifndef DV_SERVER_RWLOCK_H
#define DV_SERVER_RWLOCK_H

#include <pthread.h>

/* 0 or an errno, like pthread_rwlock_init. */
static inline int dv_rwlock_init_writer_first(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t a;
    if (pthread_rwlockattr_init(&a) != 0) return -1;
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(l, &a);
    pthread_rwlockattr_destroy(&a);
    return rc;
}

#endif
