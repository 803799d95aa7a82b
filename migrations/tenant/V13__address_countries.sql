-- Countries in addresses are ISO 3166-1 alpha-2 codes from now on (the API
-- refuses anything else). Codes written in lower case become upper case, and
-- the names people commonly typed become their codes; anything else is kept
-- as it was, and the record's editor asks for a code the next time it is saved.
CREATE TEMP TABLE country_names (name TEXT PRIMARY KEY, code TEXT NOT NULL);
INSERT INTO country_names (name, code) VALUES
  ('united states', 'US'), ('united states of america', 'US'), ('usa', 'US'), ('u.s.a.', 'US'), ('u.s.', 'US'),
  ('united kingdom', 'GB'), ('uk', 'GB'), ('u.k.', 'GB'), ('great britain', 'GB'), ('england', 'GB'),
  ('scotland', 'GB'), ('wales', 'GB'), ('northern ireland', 'GB'),
  ('canada', 'CA'), ('mexico', 'MX'), ('brazil', 'BR'), ('argentina', 'AR'),
  ('germany', 'DE'), ('deutschland', 'DE'), ('france', 'FR'), ('spain', 'ES'), ('españa', 'ES'),
  ('italy', 'IT'), ('italia', 'IT'), ('portugal', 'PT'), ('netherlands', 'NL'), ('the netherlands', 'NL'),
  ('holland', 'NL'), ('belgium', 'BE'), ('switzerland', 'CH'), ('austria', 'AT'), ('ireland', 'IE'),
  ('sweden', 'SE'), ('norway', 'NO'), ('denmark', 'DK'), ('finland', 'FI'), ('iceland', 'IS'),
  ('poland', 'PL'), ('czech republic', 'CZ'), ('czechia', 'CZ'), ('hungary', 'HU'), ('greece', 'GR'),
  ('romania', 'RO'), ('ukraine', 'UA'), ('turkey', 'TR'), ('türkiye', 'TR'), ('israel', 'IL'),
  ('india', 'IN'), ('china', 'CN'), ('japan', 'JP'), ('south korea', 'KR'), ('singapore', 'SG'),
  ('australia', 'AU'), ('new zealand', 'NZ'), ('south africa', 'ZA'), ('nigeria', 'NG'), ('kenya', 'KE'),
  ('egypt', 'EG'), ('united arab emirates', 'AE'), ('uae', 'AE'), ('saudi arabia', 'SA');

-- The index holds the country's text too: it hears of each record changed here.
INSERT INTO search_outbox (kind, id) SELECT 'contact', id FROM contacts
 WHERE json_valid(address) AND json_type(address, '$.country') = 'text'
   AND (length(trim(json_extract(address, '$.country'))) = 2
        OR lower(trim(json_extract(address, '$.country'))) IN (SELECT name FROM country_names))
   AND json_extract(address, '$.country') <> upper(trim(json_extract(address, '$.country')));
INSERT INTO search_outbox (kind, id) SELECT 'company', id FROM companies
 WHERE json_valid(address) AND json_type(address, '$.country') = 'text'
   AND (length(trim(json_extract(address, '$.country'))) = 2
        OR lower(trim(json_extract(address, '$.country'))) IN (SELECT name FROM country_names))
   AND json_extract(address, '$.country') <> upper(trim(json_extract(address, '$.country')));

UPDATE contacts SET address = json_set(address, '$.country',
    COALESCE((SELECT code FROM country_names WHERE name = lower(trim(json_extract(address, '$.country')))),
             upper(trim(json_extract(address, '$.country')))))
 WHERE json_valid(address) AND json_type(address, '$.country') = 'text'
   AND (length(trim(json_extract(address, '$.country'))) = 2
        OR lower(trim(json_extract(address, '$.country'))) IN (SELECT name FROM country_names));
UPDATE companies SET address = json_set(address, '$.country',
    COALESCE((SELECT code FROM country_names WHERE name = lower(trim(json_extract(address, '$.country')))),
             upper(trim(json_extract(address, '$.country')))))
 WHERE json_valid(address) AND json_type(address, '$.country') = 'text'
   AND (length(trim(json_extract(address, '$.country'))) = 2
        OR lower(trim(json_extract(address, '$.country'))) IN (SELECT name FROM country_names));
DROP TABLE country_names;
