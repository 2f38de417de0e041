/**
 * Antibody sequences: validation, chain typing, numbering (IMGT, Chothia, Kabat), CDR regions
 * (IMGT, Chothia, Kabat, North) and closest germlines, with profiles that ship in the package.
 */
export { AMINO_ACIDS } from './alphabet.js';
export { cleanSequence, type CleanOptions, describeSource, MAX_CHAIN_LENGTH, SequenceError, type SequenceProblem, type SequenceSource } from './validate.js';
export { looksLikeNucleotides, translateLongestOrf } from './translate.js';
export { MIN_DOMAIN_SCORE, MIN_V_IDENTITY, NotAnAntibodyError, number, numberOrError, type NumberedDomain, type NumberedResidue, type NumberingResult, type NumberOptions } from './number.js';
export { imgtCdrPositions, insertionCode, type Position } from './imgt.js';
export { convertNumbering, type ChainClass, type Scheme } from './schemes.js';
export { CDR_DEFINITIONS, CDR_RANGES, regionOf, type CdrDefinition, type CdrDefinitionSpec, type Region } from './regions.js';
export { loadProfiles, parseProfileSet, type ChainType, type ProfileSet } from './profile.js';
export { type GermlineMatch, isOgrdbPlaceholder } from './germline.js';
export { decodeInput, parseFasta, type FastaRecord } from './fasta.js';
export { chainOfNumbering, idOf, nameWithoutChainToken, pairingLine, pairRecords, type AntibodyRecord, type PairedBy, type PairingSummary, type RecordChain } from './pairing.js';
export { looksLikeAntibodyCsv, parseAntibodyCsv } from './csv.js';
export { ANARCI_LEADING_COLUMNS, anarciRows, anarciTables, formatDelimited, positionColumns, type AnarciTableKind, type NumberedDomainRow } from './anarci-table.js';
export { domainToJson, numberOutputSchema, numberedChainSchema, type NumberedChainJson, type NumberOutput } from './output.js';
