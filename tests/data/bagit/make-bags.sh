#!/usr/bin/env bash
# Writes the BagIt test bags under valid/ and invalid/, one per rule of
# RFC 8493 or of the drafts draft-kunze-bagit-00..14 (BagIt 0.93-0.97),
# for tests/unit/test_bagit.c (test_bagit__table).  Deterministic: run it
# again and git sees no change.  Needs only coreutils and iconv(1).
#
#	bash tests/data/bagit/make-bags.sh
set -euo pipefail
cd "$(dirname "$0")"
rm -rf valid invalid

B=			# the bag being written

bag() {			# bag valid|invalid NAME: start a new bag
	B=$1/$2
	mkdir -p "$B/data"
}

put() {			# put REL TEXT: a file in the bag, both as printf %b
	local rel
	rel=$(printf '%b' "$1")
	mkdir -p "$(dirname "$B/$rel")"
	printf '%b' "$2" >"$B/$rel"
}

decl() {		# decl VERSION [ENCODING]: bagit.txt
	put bagit.txt "BagIt-Version: $1\nTag-File-Character-Encoding: ${2:-UTF-8}\n"
}

sum() {			# sum ALG REL: hex checksum of a file in the bag
	test -f "$B/$2" || { echo "make-bags.sh: no $B/$2" >&2; exit 1; }
	"${1}sum" <"$B/$2" | cut -d' ' -f1
}

# manifest FILE ALG [SEP] REL...: a manifest listing REL with their sums,
# SEP between checksum and path (two spaces by default).
manifest() {
	local file=$1 alg=$2 sep='  ' rel
	shift 2
	case ${1-} in sep=*) sep=${1#sep=}; shift ;; esac
	: >"$B/$file"
	for rel in "$@"; do
		printf '%s%s%s\n' "$(sum "$alg" "$rel")" "$sep" "$rel" \
		    >>"$B/$file"
	done
}

# line FILE ALG REL LISTED: one manifest line for REL as written LISTED.
line() {
	printf '%s  %s\n' "$(sum "$2" "$3")" "$4" >>"$B/$1"
}

oxum() {		# oxum: Payload-Oxum of data/
	local bytes files
	bytes=$(find "$B/data" -type f -exec cat {} + | wc -c)
	files=$(find "$B/data" -type f | wc -l)
	echo "$bytes.$files"
}

# to16 ENC FILE: re-encode a UTF-8 tag file, with a byte-order mark
# when ENC is UTF-16 (iconv writes one for it).
to16() {
	iconv -f UTF-8 -t "$1" <"$B/$2" >"$B/$2.tmp"
	mv "$B/$2.tmp" "$B/$2"
}

# --- Valid bags -------------------------------------------------------

# 0.93 (draft -00): one space between checksum and path, a tag file in
# the payload manifest, a tag checksum file NAME.ALG, package-info.txt.
bag valid v093-basic
decl 0.93
put data/a.txt 'alpha\n'
put data/sub/b.txt 'beta\n'
put package-info.txt 'Source-Organization: Example\nPackage-Size: 1 KB\n'
manifest manifest-md5.txt md5 'sep= ' data/a.txt data/sub/b.txt bagit.txt
manifest manifest-md5.txt.sha1 sha1 manifest-md5.txt

# 0.94 (-01): hex, a tab separator, two manifests listing the same files.
bag valid v094-basic
decl 0.94
put data/a.txt 'alpha\n'
put data/b.txt 'beta\n'
manifest manifest-md5.txt md5 "sep=$(printf '\t')" data/a.txt data/b.txt
manifest manifest-sha1.txt sha1 data/a.txt data/b.txt
manifest manifest-sha1.txt.md5 md5 manifest-sha1.txt

# 0.95 (-02): the "union" rule, each payload file in one manifest only;
# a tag manifest; still package-info.txt.
bag valid v095-union
decl 0.95
put data/only-md5.txt 'one\n'
put data/only-sha1.txt 'two\n'
put package-info.txt 'Packing-Date: 2008-07-11\n'
manifest manifest-md5.txt md5 data/only-md5.txt
manifest manifest-sha1.txt sha1 data/only-sha1.txt
manifest tagmanifest-md5.txt md5 bagit.txt manifest-md5.txt \
    manifest-sha1.txt package-info.txt

# 0.96 (-03..-05): bag-info.txt with Payload-Oxum, md5sum binary-mode
# '*' before the path, a fetch.txt line with a leading '/' for a file
# that has been fetched.
bag valid v096-star-fetch
decl 0.96
put data/a.txt 'alpha\n'
put data/fetched.bin 'fetched\n'
put bag-info.txt "Bagging-Date: 2009-06-24\nPayload-Oxum: $(oxum)\n"
printf '%s *%s\n' "$(sum md5 data/a.txt)" data/a.txt >"$B/manifest-md5.txt"
printf '%s *%s\n' "$(sum md5 data/fetched.bin)" data/fetched.bin \
    >>"$B/manifest-md5.txt"
put fetch.txt 'http://example.org/fetched.bin 8 /data/fetched.bin\n'
manifest tagmanifest-sha1.txt sha1 bagit.txt bag-info.txt manifest-md5.txt

# 0.97 (-07..-14): a tag directory, names taken literally (no percent-
# decoding), CRLF line ends, bag-info continuation lines.
bag valid v097-tagdir-literal
decl 0.97
put data/x%0Ay.txt 'literal\n'
put meta/notes.txt 'tag file in a tag directory\n'
put bag-info.txt "Contact-Name: A. Person\r\n  continued\r\nPayload-Oxum: 8.1\r\n"
printf '%s  %s\r\n' "$(sum sha256 'data/x%0Ay.txt')" 'data/x%0Ay.txt' \
    >"$B/manifest-sha256.txt"
manifest tagmanifest-sha256.txt sha256 bagit.txt bag-info.txt \
    manifest-sha256.txt meta/notes.txt

# 1.0: md5, sha1, sha256 and sha512 payload and tag manifests.
bag valid v100-all-algorithms
decl 1.0
put data/a.txt 'alpha\n'
put data/deep/er/b.bin '\x00\x01\x02\xff'
put bag-info.txt "Payload-Oxum: $(oxum)\n"
for alg in md5 sha1 sha256 sha512; do
	manifest "manifest-$alg.txt" "$alg" data/a.txt data/deep/er/b.bin
done
for alg in md5 sha1 sha256 sha512; do
	manifest "tagmanifest-$alg.txt" "$alg" bagit.txt bag-info.txt \
	    manifest-md5.txt manifest-sha1.txt manifest-sha256.txt \
	    manifest-sha512.txt
done

# 1.0, tag files in UTF-16 little-endian with a byte-order mark, non-ASCII
# names (the names on disk are UTF-8).
bag valid v100-utf16le-bom
decl 1.0 UTF-16
put 'data/caf\xc3\xa9.txt' 'caf\xc3\xa9\n'
put 'data/\xe6\x97\xa5\xe6\x9c\xac.txt' 'nihon\n'
put bag-info.txt 'Contact-Name: Zo\xc3\xab \xc3\x85str\xc3\xb6m\n'
manifest manifest-sha256.txt sha256 "$(printf 'data/caf\xc3\xa9.txt')" \
    "$(printf 'data/\xe6\x97\xa5\xe6\x9c\xac.txt')"
to16 UTF-16LE manifest-sha256.txt
to16 UTF-16LE bag-info.txt
printf '\xff\xfe' | cat - "$B/manifest-sha256.txt" >"$B/m" && mv "$B/m" "$B/manifest-sha256.txt"
printf '\xff\xfe' | cat - "$B/bag-info.txt" >"$B/m" && mv "$B/m" "$B/bag-info.txt"
manifest tagmanifest-sha256.txt sha256 bagit.txt bag-info.txt \
    manifest-sha256.txt
to16 UTF-16LE tagmanifest-sha256.txt
printf '\xff\xfe' | cat - "$B/tagmanifest-sha256.txt" >"$B/m" && mv "$B/m" "$B/tagmanifest-sha256.txt"

# The same in UTF-16 big-endian with a byte-order mark.
bag valid v100-utf16be-bom
decl 1.0 UTF-16
put 'data/\xc3\xbcber.txt' 'uber\n'
manifest manifest-sha512.txt sha512 "$(printf 'data/\xc3\xbcber.txt')"
to16 UTF-16BE manifest-sha512.txt
printf '\xfe\xff' | cat - "$B/manifest-sha512.txt" >"$B/m" && mv "$B/m" "$B/manifest-sha512.txt"

# UTF-16BE declared by name: no byte-order mark needed.
bag valid v097-utf16be-declared
decl 0.97 UTF-16BE
put 'data/na\xc3\xafve.txt' 'naive\n'
manifest manifest-sha1.txt sha1 "$(printf 'data/na\xc3\xafve.txt')"
to16 UTF-16BE manifest-sha1.txt

# ISO-8859-1 tag files with non-ASCII names; the files are UTF-8 on disk.
bag valid v100-latin1
decl 1.0 ISO-8859-1
put 'data/gr\xc3\xbc\xc3\x9fe.txt' 'gruesse\n'
put 'data/\xc3\xa9t\xc3\xa9.txt' 'ete\n'
manifest manifest-sha256.txt sha256 "$(printf 'data/gr\xc3\xbc\xc3\x9fe.txt')" \
    "$(printf 'data/\xc3\xa9t\xc3\xa9.txt')"
put bag-info.txt 'Source-Organization: Universit\xc3\xa4t\n'
iconv -f UTF-8 -t ISO-8859-1 <"$B/manifest-sha256.txt" >"$B/m" && mv "$B/m" "$B/manifest-sha256.txt"
iconv -f UTF-8 -t ISO-8859-1 <"$B/bag-info.txt" >"$B/m" && mv "$B/m" "$B/bag-info.txt"
manifest tagmanifest-sha256.txt sha256 bagit.txt bag-info.txt \
    manifest-sha256.txt

# Paths written "./data/...", in payload and tag manifests.
bag valid v100-dot-slash
decl 1.0
put data/a.txt 'alpha\n'
put data/sub/b.txt 'beta\n'
line manifest-sha256.txt sha256 data/a.txt ./data/a.txt
line manifest-sha256.txt sha256 data/sub/b.txt ./data/sub/b.txt
line tagmanifest-sha256.txt sha256 bagit.txt ./bagit.txt
line tagmanifest-sha256.txt sha256 manifest-sha256.txt ./manifest-sha256.txt

# Percent-encoded names (RFC 8493 2.1.3): '%' as %25, in the manifest
# and in fetch.txt, whose file has been fetched.
bag valid v100-percent
decl 1.0
put 'data/100%.txt' 'full\n'
put 'data/50%25 off.txt' 'literal percent-two-five\n'
line manifest-sha256.txt sha256 'data/100%.txt' 'data/100%25.txt'
line manifest-sha256.txt sha256 'data/50%25 off.txt' 'data/50%2525 off.txt'
put fetch.txt 'https://example.org/100 5 data/100%25.txt\n'
manifest tagmanifest-sha256.txt sha256 bagit.txt manifest-sha256.txt fetch.txt

# NFC in the manifest, NFD on disk (RFC 8493 6.1.1.2).
bag valid v100-nfc-nfd
decl 1.0
put 'data/Nu\xcc\x81n\xcc\x83ez.txt' 'nunez\n'
printf '%s  %s\n' "$(sum sha256 "$(printf 'data/Nu\xcc\x81n\xcc\x83ez.txt')")" \
    "$(printf 'data/N\xc3\xba\xc3\xb1ez.txt')" >"$B/manifest-sha256.txt"

# CR-only line ends and a last line without a terminator.
bag valid v100-cr-lines
decl 1.0
printf 'BagIt-Version: 1.0\rTag-File-Character-Encoding: UTF-8\r' >"$B/bagit.txt"
put data/a.txt 'alpha\n'
put data/b.txt 'beta\n'
printf '%s  data/a.txt\r%s  data/b.txt' "$(sum sha512 data/a.txt)" \
    "$(sum sha512 data/b.txt)" >"$B/manifest-sha512.txt"

# --- Invalid bags -----------------------------------------------------

# A good 1.0 bag to break: two payload files, bag-info, tag manifest.
good() {
	bag invalid "$1"
	decl 1.0
	put data/a.txt 'alpha\n'
	put data/b.txt 'beta\n'
	put bag-info.txt "Payload-Oxum: $(oxum)\n"
	manifest manifest-sha256.txt sha256 data/a.txt data/b.txt
}
tags() {		# the tag manifest, last
	manifest tagmanifest-sha256.txt sha256 bagit.txt bag-info.txt \
	    manifest-sha256.txt
}

good bom-in-bagit-txt			# RFC 8493 2.1.1
printf '\xef\xbb\xbf' | cat - "$B/bagit.txt" >"$B/m" && mv "$B/m" "$B/bagit.txt"
tags

good bom-in-bagit-txt-v097		# draft -05 onward says the same
decl 0.97
printf '\xef\xbb\xbf' | cat - "$B/bagit.txt" >"$B/m" && mv "$B/m" "$B/bagit.txt"

good utf16-bagit-txt			# bagit.txt itself must be UTF-8
decl 1.0 UTF-16
to16 UTF-16 bagit.txt

good no-bagit-txt
rm "$B/bagit.txt"

good unknown-version
decl 0.92

good unknown-encoding
decl 1.0 X-NO-SUCH-CHARSET

good utf16-truncated			# odd byte count: not UTF-16
decl 1.0 UTF-16
to16 UTF-16 manifest-sha256.txt
printf 'x' >>"$B/manifest-sha256.txt"

good missing-payload-file		# in the manifest, not in data/
rm "$B/data/b.txt"
put bag-info.txt 'Payload-Oxum: 6.1\n'
tags

good payload-not-in-manifest
put data/c.txt 'gamma\n'
put bag-info.txt "Payload-Oxum: $(oxum)\n"
tags

good payload-altered
put data/a.txt 'ALPHA\n'
tags

good oxum-mismatch
put bag-info.txt 'Payload-Oxum: 11.3\n'
tags

good oxum-repeated			# RFC 8493 2.2.2
put bag-info.txt "Payload-Oxum: $(oxum)\nPayload-Oxum: $(oxum)\n"
tags

good tagmanifest-wrong			# bag-info.txt changed after the fact
tags
put bag-info.txt "Payload-Oxum: $(oxum)\nContact-Name: someone else\n"

good tagmanifest-lists-tagmanifest	# RFC 8493 2.2.1
manifest tagmanifest-md5.txt md5 bagit.txt manifest-sha256.txt
manifest tagmanifest-sha256.txt sha256 bagit.txt manifest-sha256.txt \
    tagmanifest-md5.txt

good tagmanifest-misses-manifest	# RFC 8493 2.2.1
manifest tagmanifest-sha256.txt sha256 bagit.txt bag-info.txt

good fetch-not-fetched			# fetch.txt entry still absent
rm "$B/data/b.txt"
put bag-info.txt 'Payload-Oxum: 6.1\n'
put fetch.txt 'https://example.org/b 5 data/b.txt\n'

good fetch-not-in-manifest
put fetch.txt 'https://example.org/c 6 data/c.txt\n'

good not-in-every-manifest		# RFC 8493 3, item 4
manifest manifest-md5.txt md5 data/a.txt

good star-in-v100			# RFC 8493 6.1.3: fails strict
printf '%s *data/a.txt\n%s  data/b.txt\n' "$(sum sha256 data/a.txt)" \
    "$(sum sha256 data/b.txt)" >"$B/manifest-sha256.txt"

good bom-in-utf8-manifest		# RFC 8493 2.3
printf '\xef\xbb\xbf' | cat - "$B/manifest-sha256.txt" >"$B/m" && mv "$B/m" "$B/manifest-sha256.txt"

good dot-dot-path
put manifest-sha256.txt "$(sum sha256 data/a.txt)  data/../../a.txt\n$(sum sha256 data/b.txt)  data/b.txt\n"

good no-payload-manifest
rm "$B/manifest-sha256.txt"

bag invalid v093-not-in-every-manifest	# draft -00 2.2: same set in all
decl 0.93
put data/a.txt 'alpha\n'
put data/b.txt 'beta\n'
manifest manifest-md5.txt md5 data/a.txt data/b.txt
manifest manifest-sha1.txt sha1 data/a.txt

bag invalid v093-tag-checksum-wrong	# the NAME.ALG file disagrees
decl 0.93
put data/a.txt 'alpha\n'
manifest manifest-md5.txt md5 data/a.txt
manifest manifest-md5.txt.sha1 sha1 manifest-md5.txt
put data/a.txt 'ALPHA\n'
manifest manifest-md5.txt md5 data/a.txt

bag invalid v095-package-info-oxum	# 0.95 reads package-info.txt
decl 0.95
put data/a.txt 'alpha\n'
put package-info.txt 'Payload-Oxum: 99.9\n'
manifest manifest-md5.txt md5 data/a.txt

bag invalid v096-tag-in-payload-manifest	# -03: payload files only
decl 0.96
put data/a.txt 'alpha\n'
manifest manifest-md5.txt md5 data/a.txt bagit.txt

bag invalid v096-payload-altered
decl 0.96
put data/a.txt 'alpha\n'
printf '%s *data/a.txt\n' "$(sum md5 data/a.txt)" >"$B/manifest-md5.txt"
put data/a.txt 'alpha!\n'
