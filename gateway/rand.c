/* rand.c — identifier bytes, a block of the CSPRNG per thread (rand.h). */
#include "rand.h"

#include <openssl/rand.h>
#include <string.h>

#define RAND_BLOCK 1024

static _Thread_local unsigned char rand_block[RAND_BLOCK];
static _Thread_local size_t rand_left;

int
rand_id_bytes(unsigned char *buf, size_t n)
{
	if (n > RAND_ID_MAX || (n > rand_left &&
	    RAND_bytes(rand_block, RAND_BLOCK) != 1)) {
		memset(buf, 0, n);
		return -1;
	}
	if (n > rand_left)
		rand_left = RAND_BLOCK;
	/* Handed out from the end, each byte once. */
	rand_left -= n;
	memcpy(buf, rand_block + rand_left, n);
	memset(rand_block + rand_left, 0, n);
	return 0;
}
