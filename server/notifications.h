/* notifications.h -- in-app notifications: the notifications table and the
 * `notification` push. Any module may call notifications_create inside its
 * write transaction; the push goes out with the batch's COMMIT. */
#ifndef MF_NOTIFICATIONS_H
#define MF_NOTIFICATIONS_H

#include <stdint.h>

#include <msgpack.h>

struct notification {
	int64_t	 id;
	int64_t	 user_id;
	char	*kind;			/* allocated, like title and body */
	char	*title;
	char	*body;
	int64_t	 ref_id;		/* 0: none */
	int64_t	 created_at;
	int64_t	 read_at;		/* 0: unread */
};

/* Stores a notification for user_id and pushes it to their sessions; 0, or
 * -1 on a store error. ref_id 0 means none. */
int	 notifications_create(int64_t user_id, const char *kind,
	     const char *title, const char *body, int64_t ref_id, int64_t now);
void	 notification_clear(struct notification *);
/* 0 and the row if it is user_id's, else -1. */
int	 notifications_get(int64_t id, int64_t user_id, struct notification *);
/* Marks one (if unread) or all of user_id's read; how many changed, or -1. */
int	 notifications_mark_read(int64_t id, int64_t user_id, int64_t now);
int	 notifications_mark_all_read(int64_t user_id, int64_t now);
int64_t	 notifications_unread(int64_t user_id);
/* user_id's newest first, ids below before_id (0: no bound); returns how many. */
int	 notifications_list(int64_t user_id, int unread_only, int64_t before_id,
	     int limit, void (*fn)(const struct notification *, void *), void *arg);
void	 notification_pack(msgpack_packer *, const struct notification *);

#endif
