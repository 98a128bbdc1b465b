/*  keys - CURVE certificates in CZMQ's format, and directories of them
 *
 *  Certificates are read from exactly the file named (through zconfig, not zcert_load, which
 *  prefers NAME_secret when asked for NAME), and their kind is checked: a secret where a public
 *  certificate belongs is refused as firmly as the reverse, and the two halves of a pair found
 *  side by side must match.
 */
#include "keys.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// a certificate is a few hundred bytes; a file far larger is something else
#define S_CERT_MAX_BYTES 65536

struct keys_dir_t {
    zhashx_t *names;   // Z85 public key -> peer name (file name)
    zhashx_t *people;  // Z85 public key -> the certificate's `name` metadata (or file name)
    size_t skipped;    // files that are not readable public certificates
    char problem[512]; // why the first of them was skipped
};

/*  The certificate in exactly this file. (zcert_load reads NAME_secret instead of NAME when it
 *  exists, so a public certificate asked for on a machine that holds the pair would come back
 *  with the secret, and a secret certificate asked for by its public name would be found.)
 *  Checks that the keys are Z85 and that a secret key belongs to its public key. */
static zcert_t *s_load(const char *path, char *err, size_t errlen)
{
    // read it here, so that a file this service may not read says so (not "not a certificate"),
    // and parse it from memory: zconfig_load leaks when the file is not ZPL
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > S_CERT_MAX_BYTES) {
        errorf(err, errlen,
               "cannot load certificate \"%s\": not a CZMQ certificate (%lld bytes; edu-keygen "
               "writes them)",
               path, (long long) st.st_size);
        return NULL;
    }
    size_t size = 0;
    char inner[256];
    char *text = file_read_all(path, &size, inner, sizeof inner);
    if (!text) {
        errorf(err, errlen, "could not read certificate: %s", inner);
        return NULL;
    }
    if (!strstr(text, "public-key")) { // not even worth CZMQ's parser, which complains on stderr
        free(text);
        errorf(err, errlen,
               "cannot load certificate \"%s\": not a CZMQ certificate (edu-keygen writes them)",
               path);
        return NULL;
    }
    zchunk_t *chunk = zchunk_new(text, size);
    free(text);
    zconfig_t *root = zconfig_chunk_load(chunk);
    zchunk_destroy(&chunk);
    const char *public_txt = root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
    const char *secret_txt = root ? zconfig_get(root, "/curve/secret-key", NULL) : NULL;
    byte public_key[32] = {0}, secret_key[32] = {0};
    zcert_t *cert = NULL;
    if (!public_txt || strlen(public_txt) != 40 || !zmq_z85_decode(public_key, public_txt) ||
        (secret_txt && (strlen(secret_txt) != 40 || !zmq_z85_decode(secret_key, secret_txt)))) {
        errorf(err, errlen,
               "cannot load certificate \"%s\": not a CZMQ certificate (edu-keygen writes them)",
               path);
        goto cleanup;
    }
    char derived[41];
    if (secret_txt &&
        (zmq_curve_public(derived, secret_txt) != 0 || strcmp(derived, public_txt) != 0)) {
        errorf(err, errlen,
               "cannot load certificate \"%s\": its secret key does not belong to its public key "
               "(the file is damaged: make a new pair with edu-keygen)",
               path);
        goto cleanup;
    }
    cert = zcert_new_from(public_key, secret_key);
    zconfig_t *meta = zconfig_locate(root, "/metadata");
    for (zconfig_t *item = meta ? zconfig_child(meta) : NULL; item; item = zconfig_next(item))
        zcert_set_meta(cert, zconfig_name(item), "%s", zconfig_value(item));
cleanup:
    zconfig_destroy(&root);
    return cert;
}

static bool s_has_secret(zcert_t *cert)
{
    static const char zero[41] = "0000000000000000000000000000000000000000";
    return strcmp(zcert_secret_txt(cert), zero) != 0;
}

zcert_t *keys_load_secret(const char *path, char *err, size_t errlen)
{
    zcert_t *cert = s_load(path, err, errlen);
    if (cert && !s_has_secret(cert)) {
        errorf(
            err, errlen,
            "cannot use \"%s\" as a secret certificate: it is a public one (give the NAME_secret "
            "file that edu-keygen wrote beside it)",
            path);
        zcert_destroy(&cert);
    }
    // the public half beside it (NAME next to NAME_secret), if there, must be the same pair
    if (cert && str_ends_with(path, "_secret")) {
        char *public_path = xstrndup(path, strlen(path) - strlen("_secret"));
        char inner[16];
        zcert_t *pub =
            access(public_path, F_OK) == 0 ? s_load(public_path, inner, sizeof inner) : NULL;
        if (pub && strcmp(zcert_public_txt(pub), zcert_public_txt(cert)) != 0) {
            errorf(err, errlen,
                   "cannot use \"%s\": the public certificate \"%s\" beside it is not its "
                   "public half (the two files are not one pair: make a new pair with edu-keygen "
                   "--force and hand out its public certificate)",
                   path, public_path);
            zcert_destroy(&cert);
        }
        zcert_destroy(&pub);
        free(public_path);
    }
    return cert;
}

zcert_t *keys_load_public(const char *path, char *err, size_t errlen)
{
    zcert_t *cert = s_load(path, err, errlen);
    if (cert && s_has_secret(cert)) {
        errorf(err, errlen,
               "cannot use \"%s\" as a public certificate: it holds a secret key (give the public "
               "file, NAME without _secret; a secret key never leaves its owner)",
               path);
        zcert_destroy(&cert);
    }
    return cert;
}

int keys_check_client(const char *secret_path, const char *server_path, bool *server_bad, char *err,
                      size_t errlen)
{
    zcert_t *mine = keys_load_secret(secret_path, err, errlen);
    *server_bad = mine != NULL;
    if (!mine)
        return -1;
    zcert_t *server = keys_load_public(server_path, err, errlen);
    int rc = server ? 0 : -1;
    if (server && strcmp(zcert_public_txt(server), zcert_public_txt(mine)) == 0)
        rc = errorf(err, errlen,
                    "\"%s\" is the public half of the secret certificate \"%s\" itself: give "
                    "the server's public certificate (each side has a pair of its own)",
                    server_path, secret_path);
    zcert_destroy(&server);
    zcert_destroy(&mine);
    return rc;
}

int keys_curve_client(zsock_t *sock, const char *secret_path, const char *server_path, char *err,
                      size_t errlen)
{
    zcert_t *mine = keys_load_secret(secret_path, err, errlen);
    if (!mine)
        return -1;
    zcert_t *server = keys_load_public(server_path, err, errlen);
    if (!server) {
        zcert_destroy(&mine);
        return -1;
    }
    zcert_apply(mine, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    zcert_destroy(&server);
    zcert_destroy(&mine);
    return 0;
}

/*  A secret certificate found in a keys directory: when its public half NAME is there too,
 *  the two must be one pair. (One this service may not read is left alone: the directory is
 *  for public certificates, and NAME is read on its own.) Returns 0, or -1 with err. */
static int s_dir_pair(const char *dir, const char *secret_name, char *err, size_t errlen)
{
    char *secret_path = xasprintf("%s/%s", dir, secret_name);
    char *public_path = xstrndup(secret_path, strlen(secret_path) - strlen("_secret"));
    char inner[16];
    zcert_t *secret = s_load(secret_path, inner, sizeof inner);
    zcert_t *pub = secret ? s_load(public_path, inner, sizeof inner) : NULL;
    int rc = 0;
    if (pub && strcmp(zcert_public_txt(pub), zcert_public_txt(secret)) != 0)
        rc = errorf(err, errlen,
                    "\"%s\" and \"%s\" are not one pair: the secret certificate's public key is "
                    "not the public certificate's (remove the stale one, or make a new pair with "
                    "edu-keygen --force)",
                    secret_path, public_path);
    zcert_destroy(&pub);
    zcert_destroy(&secret);
    free(public_path);
    free(secret_path);
    return rc;
}

keys_dir_t *keys_dir_load(const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        errorf(err, errlen, "could not open keys directory \"%s\": %s", dir, strerror(errno));
        return NULL;
    }
    keys_dir_t *self = xcalloc(1, sizeof *self);
    self->names = zhashx_new();
    zhashx_set_destructor(self->names, (zhashx_destructor_fn *) zstr_free);
    self->people = zhashx_new();
    zhashx_set_destructor(self->people, (zhashx_destructor_fn *) zstr_free);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (str_ends_with(e->d_name, "_secret")) { // NAME_secret beside NAME: one pair
            char why[512];
            if (s_dir_pair(dir, e->d_name, why, sizeof why) != 0 && self->skipped++ == 0)
                snprintf(self->problem, sizeof self->problem, "%s", why);
            continue;
        }
        char *path = xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            // one unreadable file (a README, a certificate the service may not read) is
            // skipped: it must not lock every other peer out
            char why[512];
            zcert_t *cert = keys_load_public(path, why, sizeof why);
            if (cert) {
                const char *person = zcert_meta(cert, "name");
                zhashx_update(self->names, zcert_public_txt(cert), xstrdup(e->d_name));
                zhashx_update(self->people, zcert_public_txt(cert),
                              xstrdup(person && *person ? person : e->d_name));
                zcert_destroy(&cert);
            } else if (self->skipped++ == 0) {
                snprintf(self->problem, sizeof self->problem, "%s", why);
            }
        }
        free(path);
    }
    closedir(d);
    return self;
}

void keys_dir_destroy(keys_dir_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->names);
    zhashx_destroy(&(*self_p)->people);
    free(*self_p);
    *self_p = NULL;
}

const char *keys_dir_name(keys_dir_t *self, const char *public_txt)
{
    return zhashx_lookup(self->names, public_txt);
}

size_t keys_dir_count(keys_dir_t *self)
{
    return zhashx_size(self->names);
}

size_t keys_dir_skipped(const keys_dir_t *self, const char **problem)
{
    if (problem)
        *problem = self->problem;
    return self->skipped;
}

const char *keys_dir_person(keys_dir_t *self, const char *public_txt)
{
    return zhashx_lookup(self->people, public_txt);
}
