/* worker.h -- a small thread pool for work that must not block the loop
 * (argon2id hashing). The work function runs on a worker thread and must not
 * touch loop state; the done function runs later on the loop thread. */
#ifndef MF_WORKER_H
#define MF_WORKER_H

#include <event2/event.h>

typedef void (*worker_fn)(void *);

int	worker_start(struct event_base *, int threads);
void	worker_stop(void);
/* Queues a job; -1 if the queue is full (the caller answers `unavailable`). */
int	worker_submit(worker_fn work, worker_fn done, void *arg, int queue_max);
int	worker_queued(void);

#endif
