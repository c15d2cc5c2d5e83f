/*
 * tests/fuzz/main.c -- replays fuzz inputs through a libFuzzer entry point
 * without libFuzzer (Knot's tests-fuzz/main.c), so every CI build runs the
 * stored corpus under whatever sanitizers it was built with.
 *
 * Usage: <target>_replay PATH...  where each PATH is a file or a directory
 * of files (not recursive).  Exits non-zero when a path cannot be read or no
 * input was found; a failing input aborts inside the entry point.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		if (n == 0) {
			break;
		}
		len += n;
	}
	fclose(f);
	/* An exact-size copy, so ASan catches any read past the input. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int runs = 0;

	if (LLVMFuzzerInitialize != NULL) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	for (int i = 1; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			if (run_file(argv[i]) != 0) {
				return 1;
			}
			runs++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		if (d == NULL) {
			perror(argv[i]);
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			if (e->d_name[0] == '.') {
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
				continue;
			}
			if (run_file(path) != 0) {
				closedir(d);
				return 1;
			}
			runs++;
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", runs);
	return runs > 0 ? 0 : 1;
}
