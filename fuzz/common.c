/* common.c — temporary files and a fixed configuration for the harnesses.
 * The environment variables the configuration names are set here, so a
 * harness needs nothing from outside. */
#include "fuzz.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "tests/unit/tmpdir.h"

const char fuzz_base_config[] =
    "gateway:\n"
    "  listen: 127.0.0.1:1\n"
    "  workers: 1\n"
    "  store: sqlite:%s/tellonce.db\n"
    "  pseudonym_key: env:FUZZ_PSEUDONYM_KEY\n"
    "  admin_token: env:FUZZ_ADMIN_TOKEN\n"
    "  limits: {max_body: 64k, request_timeout: 5s}\n"
    "  audit: {dir: %s/audit, origin: fuzz.tellonce.test/log, "
    "signing_key: file:%s/audit.key, checkpoint_interval: 1s}\n"
    "datasets:\n"
    "  address:\n"
    "    attributes: {street: string, postal_code: string, city: string, "
    "country: string, floor: integer, area: number, lift: boolean, "
    "since: date}\n"
    "  person:\n"
    "    attributes: {family_name: string, birthdate: date, "
    "full_name: string, last_name: string, country: string, "
    "children: integer, city: string, born: date, town: string}\n"
    "services:\n"
    "  mairie:\n"
    "    name: Mairie\n"
    "    auth: {api_key: env:FUZZ_MAIRIE_KEY}\n"
    "    rate_limit: {rate: 100000/s}\n"
    "    connector:\n"
    "      type: http\n"
    "      base_url: http://127.0.0.1:9\n"
    "      timeout: 200ms\n"
    "      fetch: {method: GET, path: \"/citizens/{local_id}/address\"}\n"
    "      map: {street: adresse.voie, postal_code: adresse.cp, "
    "city: adresse.commune, country: pays, floor: a.b.etage, "
    "area: surface, lift: a.ascenseur, since: depuis}\n"
    "  etat:\n"
    "    name: Etat civil\n"
    "    auth: {api_key: env:FUZZ_ETAT_KEY}\n"
    "    connector:\n"
    "      type: http\n"
    "      base_url: http://127.0.0.1:9\n"
    "      timeout: 200ms\n"
    "      fetch: {method: GET, path: \"/personnes/{local_id}\"}\n"
    "      map:\n"
    "        family_name: {path: etat.nom, transform: [trim, upper]}\n"
    "        birthdate: {path: naissance, "
    "transform: [{date: {from: DD/MM/YYYY}}]}\n"
    "        born: {path: ne, transform: [lower, "
    "{date: {from: YYYYMMDD, to: MM-DD-YYYY}}, {date: {from: MM-DD-YYYY}}]}\n"
    "        full_name: {transform: "
    "[{concat: {paths: [prenom, etat.nom, foyer.enfants], sep: \" \"}}]}\n"
    "        last_name: {path: noms, "
    "transform: [{split: {sep: \" \", index: -1}}]}\n"
    "        country: {transform: [{constant: FR}]}\n"
    "        children: {path: foyer.enfants, transform: [{default: 0}]}\n"
    "        city: {path: adresse, transform: [{split: {sep: \",\", "
    "index: 1}}, trim, {default: Inconnue}]}\n"
    "        town: {path: commune, transform: [trim, lower, "
    "{default: nulle part}]}\n"
    "  caf:\n"
    "    name: CAF\n"
    "    auth: {api_key: env:FUZZ_CAF_KEY}\n"
    "    subscribes: [{dataset: address, from: mairie}]\n"
    "  portal:\n"
    "    name: Portal\n"
    "    auth: {api_key: env:FUZZ_PORTAL_KEY}\n"
    "    roles: [transparency]\n"
    "policies:\n"
    "  - {id: caf-address, consumer: caf, provider: mairie, dataset: address,"
    " attributes: [street, postal_code, city], purpose: benefits, "
    "basis: consent}\n"
    "  - {id: caf-pt, consumer: caf, provider: mairie, dataset: address,"
    " attributes: [postal_code], purpose: benefits, basis: public_task,"
    " legal_reference: L1}\n";

static char fuzz_dir[TMPDIR_PATH_LEN];

static void
fuzz_cleanup(void)
{
	tmpdir_remove(fuzz_dir);
}

const char *
fuzz_tmpdir(void)
{
	if (fuzz_dir[0] != '\0')
		return fuzz_dir;
	/* tmpfs: the harnesses write a database and an audit log per run. */
	tmpdir_make_in(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
	    fuzz_dir);
	atexit(fuzz_cleanup);
	setenv("FUZZ_PSEUDONYM_KEY", "fuzz-pseudonym-key-0123456789abcdef", 1);
	setenv("FUZZ_ADMIN_TOKEN", "fuzz-admin", 1);
	setenv("FUZZ_MAIRIE_KEY", "fuzz-mairie", 1);
	setenv("FUZZ_CAF_KEY", "fuzz-caf", 1);
	setenv("FUZZ_PORTAL_KEY", "fuzz-portal", 1);
	setenv("FUZZ_ETAT_KEY", "fuzz-etat", 1);
	return fuzz_dir;
}

const char *
fuzz_path(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", fuzz_tmpdir(), name);
	return path;
}

void
fuzz_write(const char *name, const void *data, size_t len)
{
	const char *path = fuzz_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (len > 0 && write(fd, data, len) != (ssize_t)len)) {
		perror(path);
		abort();
	}
	close(fd);
}

struct config *
fuzz_config(const char *yaml)
{
	struct config_errors errs = { 0 };
	const char *dir = fuzz_tmpdir();
	struct config *cfg;
	char *text;

	EVP_PKEY *key;
	char err[256];

	if (access(fuzz_path("audit.key"), F_OK) != 0) {
		if ((key = keys_generate(fuzz_path("audit.key"), err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "fuzz: %s\n", err);
			abort();
		}
		EVP_PKEY_free(key);
	}
	if (asprintf(&text, yaml, dir, dir, dir) < 0)
		abort();
	fuzz_write("base.yaml", text, strlen(text));
	free(text);
	if ((cfg = config_load(fuzz_path("base.yaml"), &errs)) == NULL) {
		config_errors_print(&errs, stderr);
		abort();
	}
	config_errors_free(&errs);
	return cfg;
}

void
fuzz_check_message(const char *msg)
{
	for (; *msg != '\0'; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			abort();        /* a value reached an error message */
}

static void fuzz_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fuzz_log(int level, const char *fmt, ...)
{
}

const struct connector_env fuzz_env = { .service = "fuzz", .log = fuzz_log };

void
fuzz_answer_done(const struct connector_result *res, void *arg)
{
	struct fuzz_answer *a = arg;

	a->status = res->status;
	a->body = res->body ? json_loadb(res->body, res->body_len, 0, NULL) :
	    NULL;
	snprintf(a->cursor, sizeof(a->cursor), "%s", res->next_cursor ?
	    res->next_cursor : "");
	snprintf(a->detail, sizeof(a->detail), "%s", res->detail ?
	    res->detail : "");
}
