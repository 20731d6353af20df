/* ui.c - GET /ui: the dashboard, one self-contained HTML page kept readable
 * in coordinator/ui/index.html and embedded as ui_html.c by
 * coordinator/ui/embed.py (run it after editing the page; a test checks). */
#include "coord.h"

extern const char ui_html[];
extern const size_t ui_html_len;
extern const char ui_csp[];

void ui_page(http_resp_t *resp)
{
    http_text(resp, 200, "text/html; charset=utf-8", ui_html, ui_html_len);
    if (resp->status == 200)
        resp->csp = ui_csp; /* scripts and styles: only the page's own, by hash */
}
