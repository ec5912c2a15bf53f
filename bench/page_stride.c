/* What the stride between coroutine stack slots costs a round of resumes: a pointer chase through
 * one cache line in each of N pages, the pages STRIDE pages apart (as the top pages of N stack
 * slots of STRIDE pages are), each line at one of 32 colour offsets (as src/coro/stack.c places
 * a stack's control block). Each touch is one resume's first touch of its stack. A stride with a
 * power-of-two factor uses only part of the TLB's sets (the low bits of the page number pick
 * one): with N near the TLB's size, every touch then walks the page tables.
 *
 *   page_stride [pages] [stride ...]      (default: 1000 pages, strides 18 and 19)
 *
 * Prints the nanoseconds per touch for each stride. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define TOUCHES 20000000L

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Links one line of each of `pages` pages, `stride` pages apart, into a ring; walks it. */
static double chase(long pages, long stride)
{
    size_t page = 4096, size = (size_t)(pages * stride) * page;
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    void **first = NULL, **prev = NULL;
    for (long i = 0; i < pages; i++) {
        size_t color = ((uint32_t)i * 2654435761u >> 16) % 32 * 64;
        void **line = (void **)(map + (size_t)(i * stride) * page + color);
        if (prev)
            *prev = line;
        else
            first = line;
        prev = line;
    }
    *prev = first;
    void **p = first;
    for (long i = 0; i < pages * 4; i++) /* warm: every page faulted in, caches filled */
        p = *p;
    double t0 = now_ns();
    for (long i = 0; i < TOUCHES; i++)
        p = *p;
    double ns = (now_ns() - t0) / (double)TOUCHES;
    if (!p) /* keeps the chase from being optimised away */
        puts("unreachable");
    munmap(map, size);
    return ns;
}

int main(int argc, char **argv)
{
    long pages = argc > 1 ? atol(argv[1]) : 1000;
    if (pages < 1) {
        fprintf(stderr, "usage: page_stride [pages] [stride ...]\n");
        return 2;
    }
    long defaults[] = {18, 19};
    int n = argc > 2 ? argc - 2 : 2;
    for (int i = 0; i < n; i++) {
        long stride = argc > 2 ? atol(argv[i + 2]) : defaults[i];
        if (stride < 1) {
            fprintf(stderr, "page_stride: bad stride %s\n", argv[i + 2]);
            return 2;
        }
        printf("pages=%ld stride=%ld ns_per_touch=%.1f\n", pages, stride, chase(pages, stride));
    }
    return 0;
}
