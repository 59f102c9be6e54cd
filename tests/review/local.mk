# tests/review: concurrency review stress tests (task state machine, queues, idle).
test_programs += tests/review/test-review-task-race
tests_review_test_review_task_race_SOURCES = tests/review/test-review-task-race.c
tests_review_test_review_task_race_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_review_test_review_task_race_LDADD = $(INTERNAL_TEST_LIBS)
test_programs += tests/review/test-review-mt-wake
tests_review_test_review_mt_wake_SOURCES = tests/review/test-review-mt-wake.c
tests_review_test_review_mt_wake_CPPFLAGS = $(TEST_CPPFLAGS)
tests_review_test_review_mt_wake_LDADD = $(TEST_LIBS)
test_programs += tests/review/test-review-mt-idle
tests_review_test_review_mt_idle_SOURCES = tests/review/test-review-mt-idle.c
tests_review_test_review_mt_idle_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_review_test_review_mt_idle_LDADD = $(INTERNAL_TEST_LIBS)
test_programs += tests/review/test-review-queue-wrap
tests_review_test_review_queue_wrap_SOURCES = tests/review/test-review-queue-wrap.c
tests_review_test_review_queue_wrap_CPPFLAGS = $(INTERNAL_TEST_CPPFLAGS)
tests_review_test_review_queue_wrap_LDADD = $(INTERNAL_TEST_LIBS)
