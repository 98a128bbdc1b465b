/*  keys - CURVE certificates in CZMQ's format, and directories of them */
#include "keys.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct keys_dir_t {
    zhashx_t *names;   // Z85 public key -> peer name (file name)
    zhashx_t *people;  // Z85 public key -> the certificate's `name` metadata (or file name)
    size_t skipped;    // files that are not readable public certificates
    char problem[512]; // why the first of them was skipped
};

static bool s_readable(const char *path, char *err, size_t errlen)
{
    // open it, so that a file this service may not read says so (not "not a certificate"),
    // and look for a CZMQ certificate's key line, so that CZMQ's parser never sees (and prints
    // complaints about) a file that is something else, such as a README
    FILE *f = fopen(path, "r");
    if (!f) {
        errorf(err, errlen, "could not read certificate \"%s\": %s%s", path, strerror(errno),
               errno == EACCES ? " (is it owned by the service's user? chown it)" : "");
        return false;
    }
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    if (!strstr(head, "public-key")) {
        errorf(err, errlen, "cannot load certificate \"%s\": not a CZMQ certificate", path);
        return false;
    }
    return true;
}

zcert_t *keys_load_secret(const char *path, char *err, size_t errlen)
{
    if (!s_readable(path, err, errlen))
        return NULL;
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        errorf(err, errlen, "cannot load certificate \"%s\": not a CZMQ certificate", path);
        return NULL;
    }
    static const char zero[41] = "0000000000000000000000000000000000000000";
    if (strcmp(zcert_secret_txt(cert), zero) == 0) {
        errorf(err, errlen, "cannot use \"%s\": it holds no secret key (give the _secret file)",
               path);
        zcert_destroy(&cert);
    }
    return cert;
}

zcert_t *keys_load_public(const char *path, char *err, size_t errlen)
{
    if (!s_readable(path, err, errlen))
        return NULL;
    zcert_t *cert = zcert_load(path);
    if (!cert)
        errorf(err, errlen, "cannot load certificate \"%s\": not a CZMQ certificate", path);
    return cert;
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
        if (e->d_name[0] == '.' || str_ends_with(e->d_name, "_secret"))
            continue;
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
