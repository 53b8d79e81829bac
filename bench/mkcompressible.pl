#!/usr/bin/perl
# mkcompressible.pl MIB: write MIB MiB of compressible text to stdout,
# shaped like a server log (timestamps, a few message templates, random
# numbers and words): lz4 stores it in about a third of its size.  Never
# zeros, so that no block is skipped as a hole.
use strict;
use warnings;

my $mib = shift // die "usage: mkcompressible.pl MIB\n";
srand(2);
my @az = ('a' .. 'z', '0' .. '9');
my @words = map { join('', map { $az[rand @az] } 1 .. 4 + int(rand(8))) }
    1 .. 512;
sub w { $words[rand @words] }
sub n { int(rand($_[0])) }
my @lines = (
    sub { sprintf("INFO  worker[%d]: request %s/%s served in %d ms\n",
	n(64), w(), w(), n(5000)) },
    sub { sprintf("DEBUG cache: lookup key=%s-%x hit=%d\n",
	w(), n(1 << 30), n(2)) },
    sub { sprintf("WARN  pool[%d]: slow reply from %s.%s.example.net "
	. "after %d ms\n", n(16), w(), w(), n(10000)) },
    sub { sprintf("INFO  session %08x opened by user %s from 10.%d.%d.%d\n",
	n(1 << 31), w(), n(256), n(256), n(256)) },
);
# 8 MiB of text, then repeated: a repeat is 64 blocks of 128 KiB away,
# far outside any compressor window, so it compresses like fresh text.
# Each repeat starts with a line of a different length, so that no 4 KiB
# block of the output equals another (storage that deduplicates blocks,
# as some virtual disks do, must not make the plain-file copy cheap).
my $chunk = '';
my $t = 1700000000;
while (length($chunk) < (8 << 20)) {
	$t += n(3);
	my @tm = gmtime($t);
	$chunk .= sprintf("%04d-%02d-%02d %02d:%02d:%02d ", $tm[5] + 1900,
	    $tm[4] + 1, $tm[3], $tm[2], $tm[1], $tm[0]);
	$chunk .= $lines[n(scalar @lines)]->();
}
$chunk = substr($chunk, 0, 8 << 20);
binmode STDOUT;
my $left = $mib << 20;
for (my $i = 0; $left > 0; $i++) {
	my $part = sprintf("# part %d%s\n", $i, '-' x (($i * 523) % 4096))
	    . $chunk;
	my $n = $left < length($part) ? $left : length($part);
	print substr($part, 0, $n);
	$left -= $n;
}
