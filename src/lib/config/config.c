/* SPDX-License-Identifier: Apache-2.0 */
/* struct ev_config: defaults, loading, freeing and comparing (config.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "error.h"

uint64_t ev_space_bytes(const struct ev_space *space, uint64_t fs_bytes)
{
    if (space->percent_x100 == 0) {
        return space->bytes;
    }
    /* fs_bytes / 10000 first: no overflow for any file system size. */
    return fs_bytes / 10000u * space->percent_x100 +
           fs_bytes % 10000u * space->percent_x100 / 10000u;
}

int ev_config_defaults(struct ev_config **ret_config)
{
    struct ev_config *config = calloc(1, sizeof(*config));
    int ret;

    if (config == NULL) {
        return evi_error(-ENOMEM, "out of memory");
    }
    ret = evi_config_record_defaults(evi_config_options, evi_config_option_count, config);
    if (ret < 0) {
        ev_config_free(config);
        return evi_error(ret, "cannot set the configuration's defaults");
    }
    *ret_config = config;
    return 0;
}

int ev_config_parse(const char *name, const char *text, size_t len, struct ev_config **ret_config)
{
    struct ev_config *config = NULL;
    int ret;

    if (name == NULL || (text == NULL && len > 0)) {
        return evi_error(-EINVAL, "no configuration text");
    }
    if (len > EV_CONFIG_MAX_BYTES) {
        return evi_error(EV_ETOOBIG, "%s: larger than %u bytes", name, EV_CONFIG_MAX_BYTES);
    }
    if ((ret = ev_config_defaults(&config)) < 0) {
        return ret;
    }
    if ((config->path = strdup(name)) == NULL) {
        ret = evi_error(-ENOMEM, "out of memory");
        goto out;
    }
    ret = evi_config_read(name, text != NULL ? text : "", len, config);
out:
    if (ret < 0) {
        ev_config_free(config);
        return ret;
    }
    evi_error_clear();
    *ret_config = config;
    return 0;
}

/* Reads at most EV_CONFIG_MAX_BYTES + 1 bytes: one more says the file is too big. */
static int read_file(const char *path, char **ret_text, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    int ret = 0;

    if (fd < 0) {
        return evi_error(-errno, "cannot read '%s': %s", path, strerror(errno));
    }
    if (fstat(fd, &st) < 0) {
        ret = evi_error(-errno, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = evi_error(-EISDIR, "cannot read '%s': %s", path, strerror(EISDIR));
        goto out;
    }
    if ((text = malloc(EV_CONFIG_MAX_BYTES + 1)) == NULL) {
        ret = evi_error(-ENOMEM, "out of memory");
        goto out;
    }
    while (len <= EV_CONFIG_MAX_BYTES) {
        ssize_t n = read(fd, text + len, EV_CONFIG_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ret = evi_error(-errno, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > EV_CONFIG_MAX_BYTES) {
        ret = evi_error(EV_ETOOBIG, "%s: larger than %u bytes", path, EV_CONFIG_MAX_BYTES);
        goto out;
    }
    *ret_text = text;
    *ret_len = len;
    text = NULL;
out:
    free(text);
    (void)close(fd);
    return ret;
}

int ev_config_load(const char *path, struct ev_config **ret_config)
{
    char *text = NULL;
    size_t len = 0;
    int ret;

    if (path == NULL) {
        return evi_error(-EINVAL, "no configuration file named");
    }
    if ((ret = read_file(path, &text, &len)) < 0) {
        return ret;
    }
    ret = ev_config_parse(path, text, len, ret_config);
    free(text);
    return ret;
}

void ev_config_free(struct ev_config *config)
{
    if (config == NULL) {
        return;
    }
    evi_config_record_release(evi_config_options, evi_config_option_count, config);
    free(config->path);
    free(config);
}

/* ---- comparing ------------------------------------------------------------- */

static bool same_string(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool same_fields(const struct evi_config_option *fields, size_t count, const void *a,
                        const void *b)
{
    for (size_t i = 0; i < count; i++) {
        const struct evi_config_option *o = &fields[i];
        const char *x = (const char *)a + o->offset;
        const char *y = (const char *)b + o->offset;
        size_t n, m;
        switch (o->kind) {
        case EVI_CFG_BOOL:
            if (*(const bool *)x != *(const bool *)y) {
                return false;
            }
            break;
        case EVI_CFG_SIZE:
        case EVI_CFG_DURATION:
        case EVI_CFG_COUNT:
            if (*(const uint64_t *)x != *(const uint64_t *)y) {
                return false;
            }
            break;
        case EVI_CFG_INT:
        case EVI_CFG_ENUM:
        case EVI_CFG_SEVERITY:
            if (*(const int *)x != *(const int *)y) {
                return false;
            }
            break;
        case EVI_CFG_MODE:
            if (*(const unsigned *)x != *(const unsigned *)y) {
                return false;
            }
            break;
        case EVI_CFG_SPACE: {
            const struct ev_space *p = (const struct ev_space *)x, *q = (const struct ev_space *)y;
            if (p->bytes != q->bytes || p->percent_x100 != q->percent_x100) {
                return false;
            }
            break;
        }
        case EVI_CFG_LIST:
        case EVI_CFG_RECORDS:
            n = *(const size_t *)((const char *)a + o->count_offset);
            m = *(const size_t *)((const char *)b + o->count_offset);
            if (n != m || n > o->max) {
                return false;
            }
            for (size_t k = 0; k < n; k++) {
                if (o->kind == EVI_CFG_LIST
                        ? !same_string(((char *const *)x)[k], ((char *const *)y)[k])
                        : !same_fields(o->record->fields, o->record->field_count,
                                       x + k * o->record->size, y + k * o->record->size)) {
                    return false;
                }
            }
            break;
        case EVI_CFG_POLICIES:
            for (size_t k = 0; k < EV_TYPE_COUNT; k++) {
                if (!same_fields(o->record->fields, o->record->field_count, x + k * o->record->size,
                                 y + k * o->record->size)) {
                    return false;
                }
            }
            break;
        default:
            if (!same_string(*(char *const *)x, *(char *const *)y)) {
                return false;
            }
            break;
        }
    }
    return true;
}

bool evi_config_equal(const struct ev_config *a, const struct ev_config *b)
{
    return same_fields(evi_config_options, evi_config_option_count, a, b);
}
