/*
 * test_metrics.c — the Prometheus text format and the histograms
 * (src/metrics/metrics.c): family headers, escaping of help texts and
 * label values, integer and special float values, cumulative buckets.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "src/metrics/metrics.h"

static void test_family_and_samples(void **state)
{
	struct mtext t;

	(void)state;
	mtext_init(&t);
	mt_family(&t, "smtpcluster_x_total", "counter", "Things.");
	mt_sample_u64(&t, "smtpcluster_x_total", NULL, NULL,
		      18446744073709551615ull);
	mt_sample(&t, "smtpcluster_y", "state", "new", 3);
	mt_sample(&t, "smtpcluster_z", NULL, NULL, 0.25);
	mt_sample(&t, "smtpcluster_w", NULL, NULL, 1.0 / 3);
	assert_int_equal(t.err, 0);
	assert_string_equal(t.p, "# HELP smtpcluster_x_total Things.\n"
				 "# TYPE smtpcluster_x_total counter\n"
				 "smtpcluster_x_total 18446744073709551615\n"
				 "smtpcluster_y{state=\"new\"} 3\n"
				 "smtpcluster_z 0.25\n"
				 "smtpcluster_w 0.33333333333333331\n");
	mtext_free(&t);
}

static void test_escaping(void **state)
{
	struct mtext t;

	(void)state;
	mtext_init(&t);
	mt_family(&t, "a", "gauge", "back\\slash \"q\"\nnext");
	mt_sample(&t, "a", "name", "x\"y\\z\nw", 1);
	assert_string_equal(t.p, "# HELP a back\\\\slash \"q\"\\nnext\n"
				 "# TYPE a gauge\n"
				 "a{name=\"x\\\"y\\\\z\\nw\"} 1\n");
	mtext_free(&t);
}

static void test_special_values(void **state)
{
	struct mtext t;

	(void)state;
	mtext_init(&t);
	mt_sample(&t, "a", NULL, NULL, INFINITY);
	mt_sample(&t, "b", NULL, NULL, -INFINITY);
	mt_sample(&t, "c", NULL, NULL, NAN);
	assert_string_equal(t.p, "a +Inf\nb -Inf\nc NaN\n");
	mtext_free(&t);
}

static void test_histogram_is_cumulative(void **state)
{
	static const double b[] = {0.1, 1};
	struct mhist h = {"h_seconds", "Latency.", b, 2, {0}, 0, 0};
	struct mtext t;

	(void)state;
	mhist_observe(&h, 0.05);
	mhist_observe(&h, 0.1); /* le is inclusive */
	mhist_observe(&h, 0.5);
	mhist_observe(&h, 7);
	mhist_observe(&h, NAN); /* ignored */
	mtext_init(&t);
	mt_hist(&t, &h);
	assert_string_equal(t.p, "# HELP h_seconds Latency.\n"
				 "# TYPE h_seconds histogram\n"
				 "h_seconds_bucket{le=\"0.1\"} 2\n"
				 "h_seconds_bucket{le=\"1\"} 3\n"
				 "h_seconds_bucket{le=\"+Inf\"} 4\n"
				 "h_seconds_sum 7.65\n"
				 "h_seconds_count 4\n");
	mtext_free(&t);
}

static void test_node_histograms(void **state)
{
	struct mtext t;

	(void)state;
	metrics_reset();
	metrics_observe(MH_ACCEPT_SECONDS, 0.003);
	metrics_observe(MH__COUNT, 1); /* out of range: ignored */
	mtext_init(&t);
	metrics_hists_text(&t);
	assert_non_null(
	    strstr(t.p, "smtpcluster_accept_latency_seconds_count 1\n"));
	assert_non_null(strstr(
	    t.p,
	    "smtpcluster_accept_latency_seconds_bucket{le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(
	    t.p,
	    "smtpcluster_accept_latency_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(
	    strstr(t.p, "smtpcluster_snapshot_size_bytes_count 0\n"));
	assert_non_null(strstr(
	    t.p,
	    "smtpcluster_delivery_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
	mtext_free(&t);
	metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_family_and_samples),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_special_values),
	    cmocka_unit_test(test_histogram_is_cumulative),
	    cmocka_unit_test(test_node_histograms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
