/* privdrop.c — dropping root for good: groups first (they need root), then
 * gids, then uids, then proof that none of it can be undone. */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

/* 0 when every id is the wanted one and root cannot come back. */
static int
privdrop_verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid) {
		snprintf(err, errlen, "the user and group ids did not all change");
		return -1;
	}
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "root could be regained after the switch");
		return -1;
	}
	return 0;
}

int
privdrop_to(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "gateway.user: no user %s%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() != 0) {
		if (getuid() == uid && geteuid() == uid)
			return 0;
		snprintf(err, errlen, "gateway.user: switching to %s needs "
		    "root", user);
		return -1;
	}
	if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "gateway.user: cannot switch to %s: %s",
		    user, strerror(errno));
		return -1;
	}
	/* No setuid program or file capability can raise us again. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "gateway.user: no_new_privs: %s",
		    strerror(errno));
		return -1;
	}
	if (privdrop_verify(uid, gid, err, errlen) != 0)
		return -1;
	log_info("running as %s (uid %ld, gid %ld)", user, (long)uid,
	    (long)gid);
	return 0;
}
