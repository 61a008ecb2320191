package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/cointrail/cointrail/kv"
	"github.com/cointrail/cointrail/labels"
)

// Role is what an API key may do: read (every GET) or admin (everything).
type Role string

// The roles.
const (
	RoleRead  Role = "read"
	RoleAdmin Role = "admin"
)

// ParseRole parses "read" or "admin".
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleRead, RoleAdmin:
		return Role(s), nil
	}
	return "", fmt.Errorf("%w: role %q: want read or admin", ErrBadInput, s)
}

func (r Role) allows(need Role) bool { return need == RoleRead || r == RoleAdmin }

// APIKey is a stored key. Only the SHA-256 of the key is kept: the key
// itself is shown once, when it is created.
type APIKey struct {
	ID        string    `json:"id"` // first 12 hex digits of the key's SHA-256; names the key in lists and logs
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// keyPrefix starts every key so that a leaked one is recognisable.
const keyPrefix = "ct_"

const maxKeyName = 200

func hashKey(key string) [32]byte { return sha256.Sum256([]byte(key)) }

// CreateAPIKey makes a random 32-byte key with the given role, stores its
// hash and returns the key (to show once) and its record.
func CreateAPIKey(st kv.Store, role Role, name string, now time.Time) (string, APIKey, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", APIKey{}, err
	}
	if len(name) > maxKeyName || !labels.Printable(name) {
		return "", APIKey{}, fmt.Errorf("%w: key name: at most %d characters of one line, no control characters", ErrBadInput, maxKeyName)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", APIKey{}, fmt.Errorf("%w: random key: %v", ErrInternal, err)
	}
	key := keyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := hashKey(key)
	rec := APIKey{ID: hex.EncodeToString(h[:6]), Name: name, Role: role, CreatedAt: now.UTC().Truncate(time.Second)}
	v, _ := json.Marshal(rec)
	b := st.NewBatch()
	defer b.Close()
	b.Set(append(key1(kAPIKey), h[:]...), v)
	if err := b.Commit(true); err != nil {
		return "", APIKey{}, err
	}
	return key, rec, nil
}

// loadAPIKeys reads every stored key record, by hash.
func loadAPIKeys(st kv.Store) (map[[32]byte]APIKey, error) {
	out := map[[32]byte]APIKey{}
	err := scanPrefix(st, key1(kAPIKey), func(k, v []byte) error {
		var rec APIKey
		if len(k) != 34 || json.Unmarshal(v, &rec) != nil {
			return fmt.Errorf("%w: API key row %x", ErrCorrupt, k)
		}
		var h [32]byte
		copy(h[:], k[2:])
		out[h] = rec
		return nil
	})
	return out, err
}

// ListAPIKeys returns the stored keys (never the keys themselves), oldest first.
func ListAPIKeys(st kv.Store) ([]APIKey, error) {
	m, err := loadAPIKeys(st)
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, 0, len(m))
	for _, k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RevokeAPIKey deletes the key with the given id.
func RevokeAPIKey(st kv.Store, id string) error {
	m, err := loadAPIKeys(st)
	if err != nil {
		return err
	}
	for h, k := range m {
		if k.ID == id {
			b := st.NewBatch()
			defer b.Close()
			b.Delete(append(key1(kAPIKey), h[:]...))
			return b.Commit(true)
		}
	}
	return fmt.Errorf("%w: no API key with id %q", ErrNotFound, id)
}
