//! `cache.sealing_keys`: the secret every replica shares to seal the credentials they share.

use data_encoding::BASE64;

/// `cache.sealing_keys` parsed: `id:base64(32 bytes)` entries separated by commas, ids 1-255,
/// each once. The empty string means none.
pub fn parse_sealing_keys(text: &str) -> Result<Vec<(u8, [u8; 32])>, String> {
    let mut keys: Vec<(u8, [u8; 32])> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, key) = entry
            .split_once(':')
            .ok_or("each entry is `<id>:<base64 of 32 random bytes>`")?;
        let id: u8 = id.trim().parse().ok().filter(|i| *i != 0).ok_or("key ids are 1-255")?;
        let bytes = BASE64
            .decode(key.trim().as_bytes())
            .map_err(|_| format!("key {id} is not base64"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("key {id} is not 32 bytes (`openssl rand -base64 32` makes one)"))?;
        if keys.iter().any(|(seen, _)| *seen == id) {
            return Err(format!("key id {id} appears twice"));
        }
        keys.push((id, key));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_keys_are_parsed_strictly() {
        let k = BASE64.encode(&[7u8; 32]);
        assert_eq!(parse_sealing_keys("").unwrap(), vec![]);
        assert_eq!(
            parse_sealing_keys(&format!("2:{k}, 1:{k}")).unwrap(),
            vec![(2, [7; 32]), (1, [7; 32])]
        );
        for bad in [
            k.clone(),
            format!("0:{k}"),
            format!("256:{k}"),
            "1:not base64!".to_owned(),
            format!("1:{}", BASE64.encode(&[7u8; 16])),
            format!("1:{k},1:{k}"),
        ] {
            assert!(parse_sealing_keys(&bad).is_err(), "{bad}");
        }
    }
}
