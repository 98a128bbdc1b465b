/*  gate - who may connect: a ZAP handler (ZeroMQ RFC 27) with one keys directory per domain */
#include "gate.h"

#include "keys.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *domain;     // ZAP domain
    char *dir;              // its certificates
    keys_dir_t *keys;       // loaded (NULL until first needed or while unreadable)
    int64_t next_reload_ms; // no reload for an unknown key before this
    struct timespec mtime;  // the directory's when loaded
} s_domain_t;

static bool s_changed(s_domain_t *d)
{
    struct stat st;
    if (stat(d->dir, &st) != 0)
        return true;
    bool changed = st.st_mtim.tv_sec != d->mtime.tv_sec || st.st_mtim.tv_nsec != d->mtime.tv_nsec;
    d->mtime = st.st_mtim;
    return changed;
}

/*  The name of an allowed key, or NULL. The directory is read again when it changed (a
 *  certificate added or removed: revoking a key takes effect at the next handshake) and, at
 *  most once a second, when the key is unknown. */
static const char *s_name(s_domain_t *d, const char *key)
{
    if (d->keys && s_changed(d)) {
        keys_dir_destroy(&d->keys);
        d->next_reload_ms = 0;
    }
    const char *name = d->keys ? keys_dir_name(d->keys, key) : NULL;
    if (name || clock_mono_ms() < d->next_reload_ms)
        return name;
    d->next_reload_ms = clock_mono_ms() + 1000;
    char err[256];
    keys_dir_t *fresh = keys_dir_load(d->dir, err, sizeof err);
    if (!fresh) {
        log_warn("gate", "could not read the %s certificates: %s", d->domain, err);
        return NULL;
    }
    keys_dir_destroy(&d->keys);
    d->keys = fresh;
    s_changed(d);
    return keys_dir_name(d->keys, key);
}

/*  One ZAP request: version, request id, domain, address, identity, mechanism, credentials. */
static void s_handle(zsock_t *handler, s_domain_t *domains, size_t n)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request), *id = zmsg_popstr(request);
    char *domain = zmsg_popstr(request), *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request), *mechanism = zmsg_popstr(request);
    zframe_t *credential = zmsg_pop(request);
    const char *status = "400", *text = "refused", *user = "";
    char key[41] = "";
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && credential &&
        zframe_size(credential) == 32) {
        zmq_z85_encode(key, zframe_data(credential), 32);
        for (size_t i = 0; i < n; i++) {
            const char *name = domain && strcmp(domain, domains[i].domain) == 0
                                   ? s_name(&domains[i], key)
                                   : NULL;
            if (name) {
                status = "200", text = "OK", user = name; // the User-Id of the connection
                break;
            }
        }
        if (*status != '2')
            log_info("gate", "refused key %s from %s on \"%s\": not among the %s certificates",
                     key, address ? address : "?", domain ? domain : "", domain ? domain : "");
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, id ? id : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user);
    zmsg_addmem(reply, NULL, 0); // no metadata
    zmsg_send(&reply, handler);
    zframe_destroy(&credential);
    free(version), free(id), free(domain), free(address), free(identity), free(mechanism);
    zmsg_destroy(&request);
}

void gate_actor(zsock_t *pipe, void *args)
{
    const gate_config_t *config = args;
    s_domain_t domains[] = {{.domain = GATE_SCHOOLS, .dir = xstrdup(config->schools)},
                            {.domain = GATE_READERS, .dir = xstrdup(config->readers)}};
    zsock_t *handler = zsock_new_rep("inproc://zeromq.zap.01");
    zsock_signal(pipe, handler ? 0 : 1);
    zpoller_t *poller = handler ? zpoller_new(pipe, handler, NULL) : NULL;
    while (poller) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == handler) {
            s_handle(handler, domains, 2);
            continue;
        }
        char *command = which == pipe ? zstr_recv(pipe) : NULL;
        bool done = !command || strcmp(command, "$TERM") == 0;
        free(command);
        if (done)
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&handler);
    for (size_t i = 0; i < 2; i++) {
        keys_dir_destroy(&domains[i].keys);
        free(domains[i].dir);
    }
}
