/* check_main.h - what every suite's main() does: run the Check suite (Check's
 * summary line shows under `meson test -v`) and exit non-zero on any failure. */
#ifndef TG_CHECK_MAIN_H
#define TG_CHECK_MAIN_H

#include <check.h>

static inline int tg_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed != 0;
}

#endif
