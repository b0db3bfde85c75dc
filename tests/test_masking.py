from runtime.masking import mask_phone, phone_ref


def test_mask_phone_keeps_country_and_two_ends_only() -> None:
    assert mask_phone("+243810000001") == "+243 81•••••01"
    assert "810000001" not in mask_phone("+243810000001")


def test_mask_phone_of_garbage_reveals_nothing() -> None:
    assert mask_phone("12") == "••••"
    assert mask_phone("+24381abc0001") == "••••"


def test_phone_ref_is_keyed_and_stable() -> None:
    assert phone_ref("+243810000001", b"k1") == phone_ref("+243810000001", b"k1")
    assert phone_ref("+243810000001", b"k1") != phone_ref("+243810000001", b"k2")
