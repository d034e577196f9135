/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker inspect / podman inspect of containers, docs/INGEST.md "Container
 * inspect": a JSON array with one object per container, each one
 * container_creation.
 *
 * Docker and Podman write the same shape (Podman copies Docker's API) with
 * these differences we use: Podman's Name has no leading "/", Podman has
 * OCIRuntime (crun, runc) and ImageDigest (the manifest digest), and its
 * Image is the bare image ID without "sha256:". Capabilities are written
 * "CAP_SYS_ADMIN" by Podman and current Docker, "SYS_ADMIN" by older Docker:
 * they are stored upper-case with the CAP_ prefix, as the kernel names them.
 *
 * What inspect does not say outright is filled in as the engines behave:
 * no seccomp option means the default profile, except that --privileged
 * turns seccomp off; no no-new-privileges option means new privileges are
 * allowed; PidsLimit null, 0 or -1 means none.
 */
#include <errno.h>
#include <string.h>

#include "ingest-internal.h"

#define MAX_MOUNTS 256
#define MAX_CAPS 64
#define MAX_SECURITY_OPTS 64

static bool is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* "sha256:" and 64 hex digits, or the bare 64 digits (Podman's Image). */
static int image_digest(struct evi_ingest *in, const json_t *obj, const char *key, const char **ret)
{
    const char *s;
    int r = evi_ingest_string(in, obj, key, false, 128, &s);

    if (r < 0 || s == NULL) {
        return r;
    }
    size_t len = strlen(s);
    if (len == 71 && strncmp(s, "sha256:", 7) == 0 && is_lower_hex(s + 7, 64)) {
        *ret = s;
        return 0;
    }
    if (len == 64 && is_lower_hex(s, 64)) {
        char *d = evi_ingest_alloc(in, 72, 1);
        if (d == NULL) {
            return -ENOMEM;
        }
        memcpy(d, "sha256:", 7);
        memcpy(d + 7, s, 65);
        *ret = d;
        return 0;
    }
    return evi_ingest_fail_at(in, key, EV_EFORMAT, "expected \"sha256:\" and 64 hex digits");
}

/* ASCII only, whatever the locale. */
static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Capabilities as the kernel names them: upper-case, with CAP_ ("ALL" stays). */
static int capabilities(struct evi_ingest *in, const json_t *host, const char *key,
                        struct ev_strings *ret)
{
    struct ev_strings given;
    int r = evi_ingest_strings(in, host, key, MAX_CAPS, 64, &given);

    *ret = given;
    if (r < 0 || given.count == 0) {
        return r;
    }
    const char **items = evi_ingest_alloc(in, given.count, sizeof(*items));
    if (items == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < given.count; i++) {
        const char *name = given.items[i];
        size_t len = strlen(name);
        bool prefixed = len >= 4 && upper(name[0]) == 'C' && upper(name[1]) == 'A' &&
                        upper(name[2]) == 'P' && name[3] == '_';
        bool all =
            len == 3 && upper(name[0]) == 'A' && upper(name[1]) == 'L' && upper(name[2]) == 'L';
        size_t skip = prefixed ? 4 : 0;
        const char *prefix = all ? "" : "CAP_";
        char *c = evi_ingest_alloc(in, strlen(prefix) + len - skip + 1, 1);
        if (c == NULL) {
            return -ENOMEM;
        }
        size_t n = strlen(prefix);
        memcpy(c, prefix, n);
        for (size_t j = skip; j < len; j++) {
            c[n++] = upper(name[j]);
        }
        if (n > 64) {
            size_t mark = evi_ingest_push_key(in, key);
            (void)evi_ingest_push_index(in, i);
            r = evi_ingest_fail(in, EV_ETOOBIG, "longer than 64 bytes");
            evi_ingest_pop(in, mark);
            return r;
        }
        items[i] = c;
    }
    ret->items = items;
    return 0;
}

/*
 * HostConfig.SecurityOpt: "seccomp=unconfined", "apparmor=PROFILE",
 * "no-new-privileges[:true|false]", with ':' or '=' (both are accepted by
 * Docker). A seccomp profile given as a file is stored inline as JSON by
 * Docker: that is "custom".
 */
static int security_opts(struct evi_ingest *in, const json_t *host, struct ev_container_creation *c,
                         const char **ret_apparmor)
{
    struct ev_strings opts;
    int r =
        evi_ingest_strings(in, host, "SecurityOpt", MAX_SECURITY_OPTS, EV_INGEST_MAX_BYTES, &opts);

    *ret_apparmor = NULL;
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < opts.count; i++) {
        const char *opt = opts.items[i];
        size_t key_len = strcspn(opt, "=:");
        const char *value = opt[key_len] != '\0' ? opt + key_len + 1 : NULL;
        size_t value_len = value != NULL ? strlen(value) : 0;

        if (key_len == 7 && strncmp(opt, "seccomp", 7) == 0 && value != NULL) {
            if (value[0] == '{' || value_len > 256) {
                c->seccomp_profile = "custom";
            } else {
                c->seccomp_profile = value;
            }
        } else if (key_len == 8 && strncmp(opt, "apparmor", 8) == 0 && value != NULL &&
                   value_len <= 256) {
            *ret_apparmor = value;
        } else if (key_len == 17 && strncmp(opt, "no-new-privileges", 17) == 0) {
            if (value == NULL || strcmp(value, "true") == 0) {
                c->no_new_privileges = EV_SOME_BOOL(true);
            } else if (strcmp(value, "false") == 0) {
                c->no_new_privileges = EV_SOME_BOOL(false);
            } else {
                size_t mark = evi_ingest_push_key(in, "SecurityOpt");
                (void)evi_ingest_push_index(in, i);
                r = evi_ingest_fail(in, EV_EFORMAT, "no-new-privileges: expected true or false");
                evi_ingest_pop(in, mark);
                return r;
            }
        }
    }
    return 0;
}

/* NanoCpus, else CpuQuota / CpuPeriod, as millicores; unset when there is no limit. */
static int cpu_limit(struct evi_ingest *in, const json_t *host, struct ev_opt_int *ret)
{
    struct ev_opt_int nano, quota, period;
    int r;

    if ((r = evi_ingest_int(in, host, "NanoCpus", false, 0, INT64_MAX, &nano)) < 0 ||
        (r = evi_ingest_int(in, host, "CpuQuota", false, INT64_MIN, INT64_MAX, &quota)) < 0 ||
        (r = evi_ingest_int(in, host, "CpuPeriod", false, 0, 1000000, &period)) < 0) {
        return r;
    }
    if (nano.set && nano.value > 0) {
        int64_t m = nano.value / 1000000;
        *ret = EV_SOME_INT(m > 0 ? m : 1);
    } else if (quota.set && quota.value > 0) {
        /* The kernel's default period is 100 ms (in microseconds, as Docker gives it). */
        int64_t p = period.set && period.value > 0 ? period.value : 100000;
        int64_t whole = quota.value / p;
        if (whole > INT64_MAX / 1000 - 1000) {
            return evi_ingest_fail_at(in, "CpuQuota", EV_EFORMAT, "too large");
        }
        int64_t m = whole * 1000 + (quota.value % p) * 1000 / p;
        *ret = EV_SOME_INT(m > 0 ? m : 1);
    } else {
        *ret = (struct ev_opt_int){0};
    }
    return 0;
}

static int mounts(struct evi_ingest *in, const json_t *container, struct ev_container_creation *c)
{
    json_t *array, *item;
    struct ev_mount *m;
    size_t i;
    int r = evi_ingest_array(in, container, "Mounts", false, &array);

    if (r < 0 || array == NULL) {
        return r;
    }
    if (json_array_size(array) > MAX_MOUNTS) {
        return evi_ingest_fail_at(in, "Mounts", EV_ETOOBIG, "more than %d mounts", MAX_MOUNTS);
    }
    m = evi_ingest_alloc(in, json_array_size(array), sizeof(*m));
    if (m == NULL) {
        return -ENOMEM;
    }
    size_t mark = evi_ingest_push_key(in, "Mounts");
    json_array_foreach(array, i, item)
    {
        struct ev_opt_bool rw;
        size_t at = evi_ingest_push_index(in, i);
        if (!json_is_object(item)) {
            r = evi_ingest_fail(in, EV_EFORMAT, "expected an object");
        } else if ((r = evi_ingest_string(in, item, "Type", false, 32, &m[i].type)) == 0 &&
                   (r = evi_ingest_string(in, item, "Source", false, 4096, &m[i].source)) == 0 &&
                   (r = evi_ingest_string(in, item, "Destination", true, 4096,
                                          &m[i].destination)) == 0 &&
                   (r = evi_ingest_bool(in, item, "RW", false, &rw)) == 0) {
            if (rw.set) {
                m[i].read_only = EV_SOME_BOOL(!rw.value);
            }
        }
        evi_ingest_pop(in, at);
        if (r < 0) {
            break;
        }
    }
    evi_ingest_pop(in, mark);
    if (r == 0) {
        c->mounts = m;
        c->mount_count = json_array_size(array);
    }
    return r;
}

static int host_config(struct evi_ingest *in, const json_t *host, struct ev_container_creation *c,
                       const char **ret_apparmor)
{
    struct ev_opt_int pids;
    int r;

    if ((r = evi_ingest_bool(in, host, "Privileged", false, &c->privileged)) < 0 ||
        (r = capabilities(in, host, "CapAdd", &c->cap_add)) < 0 ||
        (r = capabilities(in, host, "CapDrop", &c->cap_drop)) < 0 ||
        (r = evi_ingest_bool(in, host, "ReadonlyRootfs", false, &c->read_only_rootfs)) < 0 ||
        (r = security_opts(in, host, c, ret_apparmor)) < 0 ||
        (r = evi_ingest_string(in, host, "NetworkMode", false, 64, &c->network_mode)) < 0 ||
        (r = evi_ingest_string(in, host, "PidMode", false, 64, &c->pid_mode)) < 0 ||
        (r = evi_ingest_int(in, host, "Memory", false, 0, INT64_MAX, &c->memory_limit_bytes)) < 0 ||
        (r = cpu_limit(in, host, &c->cpu_millicores)) < 0 ||
        (r = evi_ingest_int(in, host, "PidsLimit", false, -1, INT64_MAX, &pids)) < 0) {
        return r;
    }
    /* Present but null, 0 or -1: no limit. */
    if (json_object_get(host, "PidsLimit") != NULL) {
        c->pids_limit = EV_SOME_INT(pids.set && pids.value > 0 ? pids.value : 0);
    }
    if (c->network_mode != NULL && c->network_mode[0] == '\0') {
        c->network_mode = NULL;
    }
    if (c->pid_mode != NULL && c->pid_mode[0] == '\0') {
        c->pid_mode = NULL;
    }
    return 0;
}

static int container(struct evi_ingest *in, const json_t *item, struct ev_container_creation *c)
{
    json_t *config, *host;
    const char *name, *apparmor, *opt_apparmor;
    int r;

    if (!json_is_object(item)) {
        return evi_ingest_fail(in, EV_EFORMAT, "expected an object");
    }
    if ((r = evi_ingest_string(in, item, "Id", true, 128, &c->container_id)) < 0 ||
        (r = evi_ingest_string(in, item, "Name", false, 257, &name)) < 0 ||
        (r = evi_ingest_object(in, item, "Config", true, &config)) < 0) {
        return r;
    }
    if (json_object_get(item, "HostConfig") == NULL) {
        return evi_ingest_fail(in, EV_EFORMAT,
                               "no HostConfig: not a container (inspect of an image?)");
    }
    if ((r = evi_ingest_object(in, item, "HostConfig", true, &host)) < 0) {
        return r;
    }
    /* Docker's names start with "/". */
    if (name != NULL && name[0] == '/') {
        name++;
    }
    if (name != NULL && strlen(name) > 256) {
        return evi_ingest_fail_at(in, "Name", EV_ETOOBIG, "longer than 256 bytes");
    }
    c->name = name != NULL && name[0] != '\0' ? name : NULL;

    size_t mark = evi_ingest_push_key(in, "Config");
    r = evi_ingest_string(in, config, "Image", false, 512, &c->image);
    if (r == 0) {
        r = evi_ingest_string(in, config, "User", false, 128, &c->user);
    }
    evi_ingest_pop(in, mark);
    if (r < 0) {
        return r;
    }
    if (c->image == NULL &&
        (r = evi_ingest_string(in, item, "ImageName", false, 512, &c->image)) < 0) {
        return r;
    }
    if (c->image == NULL) {
        return evi_ingest_fail_at(in, "Config.Image", EV_EFORMAT, "missing");
    }
    if (c->image[0] == '\0') {
        return evi_ingest_fail_at(in, "Config.Image", EV_EFORMAT, "must not be empty");
    }

    /* Podman's ImageDigest is the manifest digest; without it, the image ID. */
    if ((r = image_digest(in, item, "ImageDigest", &c->image_digest)) < 0 ||
        (c->image_digest == NULL && (r = image_digest(in, item, "Image", &c->image_digest)) < 0)) {
        return r;
    }
    c->runtime = json_object_get(item, "OCIRuntime") != NULL ? "podman" : "docker";

    mark = evi_ingest_push_key(in, "HostConfig");
    r = host_config(in, host, c, &opt_apparmor);
    evi_ingest_pop(in, mark);
    if (r < 0 || (r = mounts(in, item, c)) < 0 ||
        (r = evi_ingest_string(in, item, "AppArmorProfile", false, 256, &apparmor)) < 0) {
        return r;
    }
    c->apparmor_profile = apparmor != NULL && apparmor[0] != '\0' ? apparmor : opt_apparmor;
    if (c->privileged.set && c->privileged.value) {
        c->seccomp_profile = "unconfined"; /* both engines turn seccomp off for --privileged */
    } else if (c->seccomp_profile == NULL) {
        c->seccomp_profile = "default";
    }
    if (!c->no_new_privileges.set) {
        c->no_new_privileges = EV_SOME_BOOL(false);
    }
    return 0;
}

int evi_ingest_inspect(struct evi_ingest *in)
{
    json_t *item;
    size_t i;
    int r = 0;

    if (!json_is_array(in->root)) {
        return evi_ingest_fail(in, EV_EFORMAT,
                               "expected a JSON array of containers (docker inspect's output)");
    }
    if (json_array_size(in->root) == 0) {
        return evi_ingest_fail(in, EV_EFORMAT, "empty array: no container to record");
    }
    if (json_array_size(in->root) > EV_INGEST_MAX_CONTAINERS) {
        return evi_ingest_fail(in, EV_ETOOBIG, "more than %u containers", EV_INGEST_MAX_CONTAINERS);
    }
    in->containers = evi_ingest_alloc(in, json_array_size(in->root), sizeof(*in->containers));
    if (in->containers == NULL) {
        return -ENOMEM;
    }
    json_array_foreach(in->root, i, item)
    {
        size_t at = evi_ingest_push_index(in, i);
        r = container(in, item, &in->containers[i]);
        evi_ingest_pop(in, at);
        if (r < 0) {
            return r;
        }
    }
    in->pub.container_count = json_array_size(in->root);
    return 0;
}
