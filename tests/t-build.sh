#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# t-build.sh: the launcher builds without a warning with gcc (x86-64 and
# i386) and clang, answers --help and --version, installs where it is told,
# and its man page renders cleanly.  Builds happen in a copy of the tree,
# so the launcher under test stays as it is.

. "$(dirname "$0")/lib.sh"

# Under "make check", make's own settings would leak into these builds.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES CC CFLAGS CPPFLAGS LDFLAGS \
	SANITIZE COVFLAGS

src=$TEST_TMP/src
mkdir -p "$src/tests/fuzz" "$src/bench"
cp Makefile lguest.c lguest.8 "$src/"
cp tests/tests.mk "$src/tests/"
cp tests/fuzz/fuzz.mk "$src/tests/fuzz/"
cp bench/bench.mk "$src/bench/"

# build WHAT WANT-FILE-TYPE MAKE-ARGUMENTS...
build()
{
	local what=$1 want=$2 out

	shift 2
	make -s -C "$src" clean >/dev/null 2>&1
	if ! out=$(make -s -C "$src" lguest "$@" 2>&1); then
		not_ok "$what" "make failed:" "$out"
	elif [ -n "$out" ]; then
		not_ok "$what" "the build said something:" "$out"
	elif ! file -b "$src/lguest" | grep -q "$want"; then
		not_ok "$what" "built a $(file -b "$src/lguest")"
	else
		ok "$what"
	fi
}

build "gcc builds the x86-64 launcher without a warning" \
	'ELF 64-bit.*x86-64' CC=gcc
build "gcc -m32 builds the i386 launcher without a warning" \
	'ELF 32-bit.*Intel 80386' CC="gcc -m32"
build "clang builds it without a warning" 'ELF 64-bit.*x86-64' CC=clang
build "clang -m32 builds it without a warning" \
	'ELF 32-bit.*Intel 80386' CC="clang -m32"
build "CFLAGS are honoured (and warnings stay errors)" \
	'ELF 64-bit.*x86-64' CC=gcc CFLAGS="-O0 -g3"
line=$(make -n -B -C "$src" lguest CC=gcc CFLAGS="-O0 -g3" CPPFLAGS=-DX=1 \
	LDFLAGS=-Wl,-O1 2>&1 | grep -- ' -o lguest ')
if grep -q -- '-Werror' <<<"$line" && grep -q -- '-O0 -g3' <<<"$line" &&
   grep -q -- '-DX=1' <<<"$line" && grep -q -- '-Wl,-O1' <<<"$line"; then
	ok "the compile line has CPPFLAGS, CFLAGS, LDFLAGS and -Werror"
else
	not_ok "the compile line has CPPFLAGS, CFLAGS, LDFLAGS and -Werror" \
		"$line"
fi

# A static i386 launcher: glibc warns that --username then needs the
# host's NSS libraries at run time; that is the only thing it may say.
make -s -C "$src" clean >/dev/null 2>&1
out=$(make -s -C "$src" lguest CC="gcc -m32" LDFLAGS=-static 2>&1)
extra=$(grep -v "statically linked applications requires at runtime\|in function" <<<"$out")
if file -b "$src/lguest" | grep -q 'ELF 32-bit.*statically linked' &&
   [ -z "$extra" ]; then
	ok "LDFLAGS=-static with gcc -m32 gives a static i386 launcher"
else
	not_ok "LDFLAGS=-static with gcc -m32 gives a static i386 launcher" \
		"$(file -b "$src/lguest")" "$out"
fi

dest=$TEST_TMP/dest
out=$(make -s -C "$src" install DESTDIR="$dest" PREFIX=/opt/lg 2>&1)
if [ -x "$dest/opt/lg/bin/lguest" ] &&
   [ -f "$dest/opt/lg/share/man/man8/lguest.8" ]; then
	ok "make install puts lguest and lguest.8 under DESTDIR and PREFIX"
else
	not_ok "make install puts lguest and lguest.8 under DESTDIR and PREFIX" \
		"$out" "$(cd "$dest" 2>/dev/null && find .)"
fi

run_plain --help
if [ "$status" = 0 ] && [ -z "$stderr" ] &&
   grep -q '^Usage: lguest \[options\] <mem-in-MiB> <vmlinux|bzImage>' <<<"$stdout" &&
   grep -q -- '--tunnet=bridge:' <<<"$stdout"; then
	ok "--help prints the usage on stdout, status 0"
else
	not_ok "--help prints the usage on stdout, status 0"
	run_diagnostics
fi

run_plain --version
if [ "$status" = 0 ] && [ "$stdout" = "lguest $(sed -n 's/^VERSION := //p' Makefile)" ]; then
	ok "--version prints the version, status 0"
else
	not_ok "--version prints the version, status 0" "got: $stdout"
fi

# Every option the launcher takes is in the man page and the README.
missing=
for o in verbose tunnet block rng initrd username chroot kvm lguest help \
	version; do
	grep -q -- "--$o" <<<"$stdout$(./lguest --help)" || missing+=" help:$o"
	grep -q -- "\\\\-\\\\-$o" lguest.8 || missing+=" man:$o"
	grep -q -- "--$o" README || missing+=" README:$o"
done
if [ -z "$missing" ]; then
	ok "every option is in --help, lguest.8 and the README"
else
	not_ok "every option is in --help, lguest.8 and the README" \
		"missing:$missing"
fi

if ! command -v groff >/dev/null; then
	not_ok "lguest.8 renders without warnings" "groff is not installed"
else
	out=$(groff -man -Tutf8 -ww -z lguest.8 2>&1)
	if [ -z "$out" ]; then
		ok "lguest.8 renders without warnings"
	else
		not_ok "lguest.8 renders without warnings" "$out"
	fi
fi
