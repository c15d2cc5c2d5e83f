/*
 * tools/tallowctl/main.c -- entry point of tallowctl; everything else is in
 * ctl.c, so tests and fuzzers can drive the same code.
 */
#include "tools/tallowctl/ctl.h"

int main(int argc, char **argv)
{
	return tal_ctl_main(argc, argv);
}
