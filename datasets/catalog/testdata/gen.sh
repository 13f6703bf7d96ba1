#!/bin/sh
# Regenerates the RPM repository fixtures: builds a few tiny noarch RPMs with
# rpmbuild and indexes them with createrepo_c (Debian packages rpm and
# createrepo-c). The payload sizes differ so the package sizes differ.
# Run from this directory: sh gen.sh
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/SPECS" "$work/repo"
mk() { # name version release payload-bytes
	cat >"$work/SPECS/$1.spec" <<SPEC
Name: $1
Version: $2
Release: $3
Summary: fingerflow fixture package $1
License: MIT
BuildArch: noarch
%description
Fixture package for the fingerflow catalog tests.
%install
mkdir -p %{buildroot}/usr/share/$1
head -c $4 /dev/urandom > %{buildroot}/usr/share/$1/data
%files
/usr/share/$1/data
SPEC
	rpmbuild -bb --quiet --define "_topdir $work" --define "_rpmdir $work/repo" \
		--define "_source_date_epoch_from_changelog 0" "$work/SPECS/$1.spec"
}
mk openssl-fixture 3.0.7 27.el9 200000
mk kernel-fixture 5.14.0 427.13.1.el9_4 600000
mk curl-fixture 7.76.1 29.el9_4 50000
mk tzdata-fixture 2024a 1.el9 120000
mk bash-fixture 5.1.8 9.el9 300000
createrepo_c --quiet --general-compress-type=gz --simple-md-filenames --no-database "$work/repo"
cp "$work/repo/repodata/primary.xml.gz" "$here/primary.xml.gz"
gzip -dc "$here/primary.xml.gz" >"$here/primary.xml"
# The expected entries, for the tests: name,size,product,version
(cd "$work/repo" && find . -name '*.rpm' | sort | while read -r f; do
	printf '%s,%s,%s\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(rpm -qp --qf '%{NAME},%{VERSION}-%{RELEASE}' "$f")"
done) >"$here/primary.expect.csv"

# A small Debian Packages index: the first five stanzas of the real
# bookworm-security index (shared/datasets/catalogs), plain and gzipped.
deb=${DEBIAN_INDEX:-../../../../shared/datasets/catalogs/debian-bookworm-security-amd64.Packages.gz}
[ -f "$deb" ] || deb=/work/shared/datasets/catalogs/debian-bookworm-security-amd64.Packages.gz
gzip -dc "$deb" | awk 'BEGIN{RS=""; ORS="\n\n"} NR<=5' >Packages
gzip -9n <Packages >Packages.gz
zstd -q -19 -f primary.xml -o primary.xml.zst
xz -9 -k -c Packages >Packages.xz
