/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The report's charts as inline SVG, drawn here: no script, no fonts or
 * images from elsewhere, so a report renders the same offline and in print.
 * Labels from the log are escaped like any other text of the page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-internal.h"

#define FONT "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif\""
#define LABEL_MAX 28 /* bytes of a bar label shown */

const char *evi_rep_severity_color(int severity)
{
    static const char *const colors[] = {"#7f1d1d", "#b91c1c", "#dc2626", "#ea580c",
                                         "#d97706", "#2563eb", "#0e7490", "#6b7280"};
    return severity >= 0 && severity <= EV_SEV_DEBUG ? colors[severity] : "#9ca3af";
}

/* The smallest of 1, 2, 5 times a power of ten that is >= v (at least 1). */
static uint64_t nice_max(uint64_t v)
{
    uint64_t p = 1;
    while (v > p * 10 && p <= UINT64_MAX / 100) {
        p *= 10;
    }
    if (v <= p) {
        return p;
    }
    if (v <= 2 * p) {
        return 2 * p;
    }
    if (v <= 5 * p) {
        return 5 * p;
    }
    return 10 * p;
}

/* Grid lines for an axis from 0 to top (a nice_max): integer steps only. */
static int ticks_of(uint64_t top)
{
    uint64_t lead = top;
    while (lead >= 10) {
        lead /= 10;
    }
    int ticks = lead == 2 ? 4 : 5;
    return top < (uint64_t)ticks ? (int)top : ticks;
}

static void open_svg(struct evi_rtext *t, int width, int height, const char *title)
{
    evi_rtext_printf(t,
                     "<svg viewBox=\"0 0 %d %d\" "
                     "width=\"100%%\" role=\"img\" aria-label=\"%s\" " FONT
                     " font-size=\"12\">\n<title>%s</title>\n",
                     width, height, title, title);
}

void evi_rep_svg_timeline(struct evi_rtext *t, const struct ev_summary *s)
{
    enum { W = 960, H = 280, LEFT = 64, RIGHT = 16, TOP = 28, BOTTOM = 56 };
    const int plot_w = W - LEFT - RIGHT, plot_h = H - TOP - BOTTOM;
    enum { MIN_SHOWN = 24 };
    int64_t stored = s->any_bucket ? s->bucket_hi - s->bucket_lo + 1 : 0;
    int64_t width_s = evi_rep_bucket_seconds(s->bucket_unit);
    uint64_t peak = 0;
    /* A short timeline is drawn inside a day's worth of buckets, centred, not as one wide bar. */
    int64_t pad = stored > 0 && stored < MIN_SHOWN ? (MIN_SHOWN - stored) / 2 : 0;
    int64_t n = stored > 0 && stored < MIN_SHOWN ? MIN_SHOWN : stored;
    int64_t first = s->bucket_lo - pad;

    open_svg(t, W, H, "Events over time");
    for (int64_t i = 0; i < stored; i++) {
        peak = s->buckets[i] > peak ? s->buckets[i] : peak;
    }
    uint64_t top = nice_max(peak);
    /* Legend. */
    evi_rtext_printf(t,
                     "<rect x=\"%d\" y=\"6\" width=\"12\" height=\"12\" fill=\"#1d4ed8\"/>"
                     "<text x=\"%d\" y=\"16\" fill=\"#374151\">security events per %s</text>\n",
                     LEFT, LEFT + 18, evi_rep_bucket_name(s->bucket_unit));
    /* Grid and y labels. */
    int ticks = ticks_of(top);
    for (int k = 0; k <= ticks; k++) {
        double y = TOP + plot_h - (double)plot_h * k / ticks;
        evi_rtext_printf(
            t,
            "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#4b5563\">%llu</text>\n",
            LEFT, LEFT + plot_w, y, y, k == 0 ? "#6b7280" : "#e5e7eb", LEFT - 6, y + 4,
            (unsigned long long)(top * (uint64_t)k / (uint64_t)ticks));
    }
    if (n == 0) {
        evi_rtext_printf(t,
                         "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#6b7280\">no "
                         "events in the window</text>\n",
                         LEFT + plot_w / 2, TOP + plot_h / 2);
    }
    double bar_w = n > 0 ? (double)plot_w / (double)n : 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = i - pad;
        uint64_t count = at >= 0 && at < stored ? s->buckets[at] : 0;
        if (count == 0) {
            continue;
        }
        double h = (double)plot_h * (double)count / (double)top;
        double gap = bar_w > 4 ? bar_w * 0.15 : 0;
        char ts[32];
        evi_rep_time_short((first + i) * width_s * 1000000000, ts);
        evi_rtext_printf(t,
                         "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                         "fill=\"#1d4ed8\"><title>%s: %llu</title></rect>\n",
                         LEFT + bar_w * (double)i + gap / 2, TOP + plot_h - h,
                         bar_w - gap > 0.5 ? bar_w - gap : 0.5, h, ts, (unsigned long long)count);
    }
    /* X labels: about six, at bucket starts. */
    int64_t step = n > 6 ? (n + 5) / 6 : 1;
    for (int64_t i = 0; i < n; i += step) {
        char ts[32];
        evi_rep_time_short((first + i) * width_s * 1000000000, ts);
        ts[s->bucket_unit != EVI_BUCKET_HOUR ? 10 : 16] = '\0'; /* the axis says UTC */
        double x = LEFT + bar_w * (double)i;
        evi_rtext_printf(
            t,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#6b7280\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"start\" fill=\"#4b5563\">%s</text>\n",
            x, x, TOP + plot_h, TOP + plot_h + 5, x, TOP + plot_h + 18, ts);
    }
    evi_rtext_printf(t,
                     "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#111827\">time (UTC), "
                     "one bar per %s</text>\n",
                     LEFT + plot_w / 2, H - 10, evi_rep_bucket_name(s->bucket_unit));
    evi_rtext_printf(t,
                     "<text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\" "
                     "fill=\"#111827\">events</text>\n",
                     TOP + plot_h / 2);
    evi_rtext_puts(t, "</svg>\n");
}

struct bar {
    const char *label;
    uint64_t count;
    const char *color;
};

static void bar_chart(struct evi_rtext *t, const char *title, const struct bar *bars, size_t n,
                      const char *axis)
{
    enum { W = 460, LEFT = 150, RIGHT = 56, TOP = 8, ROW = 24, BOTTOM = 40 };
    const int plot_w = W - LEFT - RIGHT;
    int height = TOP + ROW * (int)(n > 0 ? n : 1) + BOTTOM;
    uint64_t peak = 0;

    for (size_t i = 0; i < n; i++) {
        peak = bars[i].count > peak ? bars[i].count : peak;
    }
    uint64_t top = nice_max(peak);
    open_svg(t, W, height, title);
    int ticks = ticks_of(top);
    for (int k = 0; k <= ticks; k++) {
        double x = LEFT + (double)plot_w * k / ticks;
        evi_rtext_printf(
            t,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"%s\"/>"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#4b5563\">%llu</text>\n",
            x, x, TOP, TOP + ROW * (int)(n > 0 ? n : 1), k == 0 ? "#6b7280" : "#e5e7eb", x,
            TOP + ROW * (int)(n > 0 ? n : 1) + 14,
            (unsigned long long)(top * (uint64_t)k / (uint64_t)ticks));
    }
    if (n == 0) {
        evi_rtext_printf(t, "<text x=\"%d\" y=\"%d\" fill=\"#6b7280\">no events</text>\n", LEFT + 8,
                         TOP + 16);
    }
    for (size_t i = 0; i < n; i++) {
        int y = TOP + ROW * (int)i;
        double w = (double)plot_w * (double)bars[i].count / (double)top;
        size_t cut = evi_rep_utf8_prefix(bars[i].label, strlen(bars[i].label), LABEL_MAX);
        char label[LABEL_MAX + 4];
        memcpy(label, bars[i].label, cut);
        (void)snprintf(label + cut, sizeof(label) - cut, "%s",
                       bars[i].label[cut] != '\0' ? "\xe2\x80\xa6" : "");
        evi_rtext_printf(t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#111827\">",
                         LEFT - 8, y + 16);
        evi_rtext_html(t, label);
        evi_rtext_printf(t,
                         "</text><rect x=\"%d\" y=\"%d\" width=\"%.2f\" height=\"%d\" rx=\"2\" "
                         "fill=\"%s\"/><text x=\"%.1f\" y=\"%d\" fill=\"#111827\" "
                         "font-weight=\"600\">%llu</text>\n",
                         LEFT, y + 4, w, ROW - 8, bars[i].color, LEFT + w + 6, y + 16,
                         (unsigned long long)bars[i].count);
    }
    evi_rtext_printf(t,
                     "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#111827\">%s</text>\n",
                     LEFT + plot_w / 2, height - 6, axis);
    evi_rtext_puts(t, "</svg>\n");
}

void evi_rep_svg_severity(struct evi_rtext *t, const struct ev_summary *s)
{
    struct bar bars[EV_SEV_DEBUG + 1];
    for (int i = 0; i <= EV_SEV_DEBUG; i++) {
        bars[i] = (struct bar){ev_severity_name(i), s->severity[i], evi_rep_severity_color(i)};
    }
    bar_chart(t, "Events by severity", bars, EV_SEV_DEBUG + 1, "events (syslog severity)");
}

void evi_rep_svg_types(struct evi_rtext *t, const struct ev_summary *s)
{
    enum { TOP_TYPES = 10 };
    struct bar bars[TOP_TYPES];
    const struct evi_rep_count **sorted = evi_rep_table_sorted(&s->types, false);
    size_t n = 0;

    if (sorted == NULL) {
        t->error = -ENOMEM;
        return;
    }
    for (; n < s->types.len && n < TOP_TYPES; n++) {
        bars[n] = (struct bar){sorted[n]->key, sorted[n]->count, "#4f46e5"};
    }
    bar_chart(t, "Events by type", bars, n, "events (top 10 types)");
    free(sorted);
}
