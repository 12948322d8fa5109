/* worker.c -- a small thread pool whose results come back on the loop. */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"
#include "util.h"
#include "worker.h"

#define WORKER_NICE	10

struct job {
	worker_fn	 work;
	worker_fn	 done;
	void		*arg;
	struct job	*next;
};

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static struct job	*todo_head, *todo_tail, *done_head, *done_tail;
static int		 queued, stopping, nthreads;
static pthread_t	*threads;
static struct event	*done_ev;

static void
queue_push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail != NULL)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *
worker_main(void *arg)
{
	struct job	*j;

	(void)arg;
	/* Hashing yields to the loop thread: a login storm must not slow
	 * every other request (on Linux this applies to this thread only). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE) != 0)
		log_debug("worker: cannot lower priority");
	pthread_mutex_lock(&lock);
	for (;;) {
		while (todo_head == NULL && !stopping)
			pthread_cond_wait(&cond, &lock);
		if (todo_head == NULL && stopping)
			break;
		j = todo_head;
		todo_head = j->next;
		if (todo_head == NULL)
			todo_tail = NULL;
		pthread_mutex_unlock(&lock);

		j->work(j->arg);

		pthread_mutex_lock(&lock);
		queue_push(&done_head, &done_tail, j);
		event_active(done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void
worker_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*list, *j;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&lock);
	list = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&lock);
	while ((j = list) != NULL) {
		list = j->next;
		pthread_mutex_lock(&lock);
		queued--;
		pthread_mutex_unlock(&lock);
		j->done(j->arg);
		free(j);
	}
}

int
worker_start(struct event_base *base, int n)
{
	int	i;

	if (n < 1)
		n = 1;
	done_ev = event_new(base, -1, EV_PERSIST, worker_done_cb, NULL);
	threads = xcalloc((size_t)n, sizeof *threads);
	for (i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0) {
			log_err("cannot start worker thread");
			return -1;
		}
		nthreads++;
	}
	return 0;
}

void
worker_stop(void)
{
	int	i;

	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
	/* Finish what completed, so every request is answered or freed. */
	worker_done_cb(-1, 0, NULL);
	if (done_ev != NULL) {
		event_free(done_ev);
		done_ev = NULL;
	}
}

int
worker_submit(worker_fn work, worker_fn done, void *arg, int queue_max)
{
	struct job	*j;

	pthread_mutex_lock(&lock);
	if (queued >= queue_max || stopping) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	j = xcalloc(1, sizeof *j);
	j->work = work;
	j->done = done;
	j->arg = arg;
	queue_push(&todo_head, &todo_tail, j);
	queued++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return 0;
}

int
worker_queued(void)
{
	int	n;

	pthread_mutex_lock(&lock);
	n = queued;
	pthread_mutex_unlock(&lock);
	return n;
}
