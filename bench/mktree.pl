#!/usr/bin/perl
# mktree.pl DIR NFILES NDIRS MAXSIZE SEED
# Make NFILES files of random sizes 0..MAXSIZE bytes spread over NDIRS
# directories (two levels: DIR/dNN/dMM), filled with bytes from
# /dev/urandom (incompressible).  Prints the total number of bytes.
use strict;
use warnings;

my ($dir, $nfiles, $ndirs, $max, $seed) = @ARGV;
die "usage: mktree.pl DIR NFILES NDIRS MAXSIZE SEED\n" unless defined $seed;
srand($seed);
open(my $rnd, '<:raw', '/dev/urandom') or die "/dev/urandom: $!\n";
mkdir $dir or die "$dir: $!\n";
my $top = int(sqrt($ndirs)) || 1;
my @dirs;
for my $i (0 .. $ndirs - 1) {
	my $a = sprintf("%s/d%02d", $dir, $i % $top);
	my $b = sprintf("%s/e%03d", $a, $i);
	mkdir $a unless -d $a;
	mkdir $b or die "$b: $!\n";
	push @dirs, $b;
}
my $pool = '';
my $total = 0;
for my $i (0 .. $nfiles - 1) {
	my $n = int(rand($max + 1));
	if (length($pool) < $n) {
		my $got = read($rnd, my $more, 4 << 20);
		die "/dev/urandom: short read\n" unless $got;
		$pool .= $more;
	}
	my $f = sprintf("%s/f%05d", $dirs[$i % $ndirs], $i);
	open(my $fh, '>:raw', $f) or die "$f: $!\n";
	print $fh substr($pool, 0, $n, '');
	close($fh) or die "$f: $!\n";
	$total += $n;
}
print "$total\n";
