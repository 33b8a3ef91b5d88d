package storage

import "bytes"

// SniffLen is how many leading bytes SniffType needs.
const SniffLen = 32

// SniffType names the type of a file from its first bytes (magic numbers), for
// the types kportal keeps as documents: application/pdf, image/png,
// image/jpeg, image/heic. It returns "" for anything else, whatever its name
// or claimed type says.
func SniffType(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case isHEIC(head):
		return "image/heic"
	}
	return ""
}

// isHEIC: an ISO base media file whose ftyp box names a HEIF brand (iPhone
// photos are "heic"; "mif1" is the generic HEIF still image).
func isHEIC(head []byte) bool {
	if len(head) < 12 || !bytes.Equal(head[4:8], []byte("ftyp")) {
		return false
	}
	switch string(head[8:12]) {
	case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
		return true
	}
	return false
}
