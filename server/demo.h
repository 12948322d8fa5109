/* demo.h -- demo data for a new, empty database (--demo). */
#ifndef MF_DEMO_H
#define MF_DEMO_H

/* Seeds only when the database has no users; 1 seeded, 0 left alone, -1 error. */
int	demo_seed(void);

#endif
