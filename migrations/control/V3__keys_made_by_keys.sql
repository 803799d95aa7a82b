-- Keys created by other keys act for the person behind the key that made
-- them (V2 filled in only keys created by people). Repeated for chains.
UPDATE api_keys SET owner_user_id = (
    SELECT p.owner_user_id FROM api_keys p WHERE 'api_key:' || p.id = api_keys.created_by)
WHERE owner_user_id IS NULL AND created_by LIKE 'api_key:%';
UPDATE api_keys SET owner_user_id = (
    SELECT p.owner_user_id FROM api_keys p WHERE 'api_key:' || p.id = api_keys.created_by)
WHERE owner_user_id IS NULL AND created_by LIKE 'api_key:%';
UPDATE api_keys SET owner_user_id = (
    SELECT p.owner_user_id FROM api_keys p WHERE 'api_key:' || p.id = api_keys.created_by)
WHERE owner_user_id IS NULL AND created_by LIKE 'api_key:%';
