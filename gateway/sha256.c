/* sha256.c — SHA-256 through a digest fetched once (sha256.h). */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>

static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *
sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched;
}

int
sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	const EVP_MD *md = sha256_md();

	return md != NULL && EVP_Digest(data, len, out, NULL, md, NULL) == 1 ?
	    0 : -1;
}
