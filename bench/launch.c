// SPDX-License-Identifier: GPL-2.0
/*
 * launch.c: run a VMM once and time it.
 *
 *   launch [-o FILE] [-e FILE] [-m MARKER] [-t SECONDS] -- COMMAND [ARG...]
 *
 * Starts COMMAND (stdin /dev/null, a process group of its own) and prints
 * one line on stdout when it has ended:
 *
 *   marker_ms=M exit_ms=E status=S maxrss_kb=K
 *
 * M: milliseconds from just before the fork to the first appearance of
 * MARKER in COMMAND's standard output (-1 if it never came, or without
 * -m); E: to COMMAND's exit, seen through a pidfd; S: its exit status
 * (128 + the signal if one killed it); K: its peak resident set (wait4's
 * ru_maxrss).  Without -m, COMMAND's stdout is FILE itself (-o) and we
 * never touch it, so that a VMM writing its console to a file writes
 * straight there; with -m it is a pipe that we copy to FILE as we search
 * it.  -e FILE takes its stderr.  After -t SECONDS (default 120) the
 * process group is killed.
 *
 * Static, so that it runs in the nested host's bare initramfs too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: launch [-o FILE] [-e FILE] [-m MARKER] "
			"[-t SECONDS] -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	const char *out = NULL, *err = NULL, *marker = NULL;
	double timeout = 120, marker_ms = -1, exit_ms;
	int opt, pipefd[2] = { -1, -1 }, outfd = -1, pidfd, status;
	size_t mlen = 0, have = 0;
	char *window = NULL;
	struct timespec t0;
	struct rusage ru;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+o:e:m:t:")) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'e':
			err = optarg;
			break;
		case 'm':
			marker = optarg;
			break;
		case 't':
			timeout = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (out) {
		outfd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0644);
		if (outfd < 0) {
			perror(out);
			return 2;
		}
	}
	if (marker) {
		mlen = strlen(marker);
		window = malloc(mlen + 65536);
		if (!window || pipe2(pipefd, O_CLOEXEC)) {
			perror("launch");
			return 2;
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(fd, 0);
		if (marker)
			dup2(pipefd[1], 1);
		else if (outfd >= 0)
			dup2(outfd, 1);
		if (err) {
			fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0)
				dup2(fd, 2);
		}
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	setpgid(pid, pid);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		perror("pidfd_open");
		return 2;
	}
	if (marker)
		close(pipefd[1]);

	for (;;) {
		struct pollfd p[2] = { { pidfd, POLLIN, 0 },
				       { pipefd[0], POLLIN, 0 } };
		double left = timeout * 1e3 - ms_since(&t0);
		int n;

		if (left <= 0) {
			fprintf(stderr,
				"launch: %s still running after %.0f s: "
				"killed\n",
				argv[optind], timeout);
			kill(-pid, SIGKILL);
			break;
		}
		n = poll(p, marker && pipefd[0] >= 0 ? 2 : 1, left + 1);
		if (n < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			char buf[65536];
			ssize_t r = read(pipefd[0], buf, sizeof(buf));

			if (r <= 0) {
				close(pipefd[0]);
				pipefd[0] = -1;
			} else {
				if (outfd >= 0 && write(outfd, buf, r) != r)
					perror("launch: writing the output");
				if (marker_ms < 0) {
					/* The tail of what came before, then this. */
					memcpy(window + have, buf, r);
					have += r;
					if (memmem(window, have, marker, mlen))
						marker_ms = ms_since(&t0);
					if (have >= mlen) {
						memmove(window,
							window + have - mlen +
								1,
							mlen - 1);
						have = mlen - 1;
					}
				}
			}
		}
		if (p[0].revents)
			break;
	}
	exit_ms = ms_since(&t0);
	/* What it wrote last, for the output file. */
	if (pipefd[0] >= 0) {
		char buf[65536];
		ssize_t r;

		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		while ((r = read(pipefd[0], buf, sizeof(buf))) > 0)
			if (outfd >= 0 && write(outfd, buf, r) != r)
				break;
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	kill(-pid, SIGKILL); /* anything it left behind */
	printf("marker_ms=%.1f exit_ms=%.1f status=%d maxrss_kb=%ld\n",
	       marker_ms, exit_ms,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	       ru.ru_maxrss);
	return 0;
}
