/* chat.h -- conversations and messages. Other modules call these, not
 * their SQL. A conversation joins two users; each side has a read position. */
#ifndef MF_CHAT_H
#define MF_CHAT_H

#include <stdint.h>

#include <msgpack.h>

#include "users.h"

#define CHAT_BODY_MAX		4000	/* characters */
#define CHAT_CLIENT_ID_MAX	64	/* characters */

struct chat_conv {
	int64_t	id;
	int64_t	user_a;			/* the smaller user id */
	int64_t	user_b;
	int64_t	a_read_id;
	int64_t	b_read_id;
	int64_t	last_message_id;
	int64_t	created_at;
};

struct chat_msg {
	int64_t	 id;
	int64_t	 conversation_id;
	int64_t	 sender_id;
	int64_t	 created_at;
	char	*client_msg_id;		/* allocated; chat_msg_clear frees */
	char	*body;			/* allocated */
};

/* 0 and the row, or -1 when there is none. */
int	 chat_conv_get(int64_t id, struct chat_conv *);
int	 chat_conv_find(int64_t user1, int64_t user2, struct chat_conv *);
/* Inserts the pair's conversation; 0, or -1 on a store error. */
int	 chat_conv_create(int64_t user1, int64_t user2, int64_t now,
	     struct chat_conv *);
/* 1 if user is one of the two. */
int	 chat_conv_has(const struct chat_conv *, int64_t user_id);
int64_t	 chat_conv_peer(const struct chat_conv *, int64_t user_id);
int64_t	 chat_conv_read_id(const struct chat_conv *, int64_t user_id);

void	 chat_msg_clear(struct chat_msg *);
int	 chat_msg_get(int64_t id, struct chat_msg *);
int	 chat_msg_by_client_id(int64_t sender_id, const char *client_msg_id,
	     struct chat_msg *);
/* Inserts m (sets m->id) and moves the conversation's last message and the
 * sender's read position to it; 0 or -1. */
int	 chat_msg_insert(struct chat_msg *);
/* Packs {id, conversation_id, sender_id, body, client_msg_id, created_at}. */
void	 chat_msg_pack(msgpack_packer *, const struct chat_msg *);

/* Moves user's read position forward to up_to (never back, never past the
 * last message); the new position in *read_id; 1 if it moved, 0, -1. */
int	 chat_mark_read(const struct chat_conv *, int64_t user_id, int64_t up_to,
	     int64_t *read_id);
/* Messages from the other side after user's read position. */
int64_t	 chat_unread(const struct chat_conv *, int64_t user_id);
int64_t	 chat_unread_total(int64_t user_id);

/* Each of user's conversations, the latest message first. */
void	 chat_list(int64_t user_id, void (*fn)(const struct chat_conv *, void *),
	     void *arg);
/* Up to limit messages oldest first: the oldest after after_id (when
 * >= 0), else the newest before before_id (0: no bound). Returns 1 when more
 * messages lie beyond those given, else 0. */
int	 chat_history(int64_t conversation_id, int64_t before_id,
	     int64_t after_id, int limit,
	     void (*fn)(const struct chat_msg *, void *), void *arg);
/* Calls fn with each user who shares a conversation with user_id. */
void	 chat_peers(int64_t user_id, void (*fn)(int64_t peer, void *), void *arg);

/* --- whom one may message (chat.contacts) --- */

struct chat_contacts_query {
	int64_t		 user_id;	/* the caller, left out */
	int		 staff;		/* the caller is staff: all staff */
	int64_t		 doctor_id;	/* 0, or the caller's doctor profile */
	int64_t		 patient_id;	/* 0, or the caller's patient record */
	const char	*name;		/* "" or NULL: any; else a substring */
	int64_t		 limit, offset;
};

struct chat_contact {
	int64_t		 user_id;
	char		 full_name[NAME_MAX_CHARS * 4 + 1];
	enum role	 role;
};

/* Calls fn for one page of the contacts, by name; returns how many there
 * are in all, or -1 on a store error. */
int64_t	 chat_contacts(const struct chat_contacts_query *,
	     void (*fn)(const struct chat_contact *, void *), void *arg);

/* Presence (op-chat.c): a user's sessions attached or detached; the
 * online/offline change is pushed from the loop, never from the caller. */
void	 chat_presence_touch(int64_t user_id);

#endif
