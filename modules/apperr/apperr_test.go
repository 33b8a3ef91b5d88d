package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestCodeAndMessageSurviveWrapping(t *testing.T) {
	base := New(NotFound, "Fant ikke planen %q.", "KLS")
	wrapped := fmt.Errorf("loading plan: %w", base)
	if CodeOf(wrapped) != NotFound || MessageOf(wrapped) != `Fant ikke planen "KLS".` {
		t.Fatalf("got %s / %s", CodeOf(wrapped), MessageOf(wrapped))
	}
	if Status(CodeOf(wrapped)) != http.StatusNotFound {
		t.Fatal("not found must map to 404")
	}
}

func TestForeignErrorsAreInternalAndHidden(t *testing.T) {
	err := errors.New("pq: relation secret_table does not exist")
	if CodeOf(err) != Internal || MessageOf(err) == err.Error() {
		t.Fatalf("internal details leaked: %q", MessageOf(err))
	}
	w := Wrap(err, Unavailable, "Databasen svarer ikke.")
	if !errors.Is(w, err) || MessageOf(w) != "Databasen svarer ikke." {
		t.Fatal("wrap must keep the cause for logs and the message for users")
	}
}
